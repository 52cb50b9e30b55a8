"""`evaltool plan`: how many test cases a comparison needs to see a drop of a given size."""

from typing import Any

import click

from evaltool import compare as comparing
from evaltool import db, display, runs
from evaltool.cli.output import echo_json, echo_table, json_option

_probability = click.FloatRange(0, 1, min_open=True, max_open=True)


@click.command(name="plan")
@click.option("--baseline", "baseline_ref", metavar="RUN", required=True, help="The baseline run.")
@click.option(
    "--detect",
    type=click.FloatRange(0, min_open=True),
    required=True,
    help="The drop to detect, on the metric's scale: 0.02 is 2 points of pass rate.",
)
@click.option("--metric", "metrics", multiple=True, help="Only this metric (repeatable).")
@click.option(
    "--alpha",
    type=_probability,
    default=0.05,
    show_default=True,
    help="Error rate of the two-sided test the comparison will make.",
)
@click.option(
    "--power",
    type=_probability,
    default=0.8,
    show_default=True,
    help="How often a drop of --detect should be seen (0.8: 4 times in 5).",
)
@click.option(
    "--like",
    "like_ref",
    metavar="RUN",
    help="A second run on the same dataset (a rerun of the baseline's model): its observed "
    "paired spread replaces the independent upper bound.",
)
@json_option
def plan(
    baseline_ref: str,
    detect: float,
    metrics: tuple[str, ...],
    alpha: float,
    power: float,
    like_ref: str | None,
    as_json: bool,
) -> None:
    """Test cases a paired comparison needs to detect a drop of --detect, per metric.

    Per metric of the baseline run: its test cases now, its pass rate or mean, the
    standard deviation of the per-case differences a comparison would see, the cases
    needed to detect a drop of --detect with --power at --alpha, and the smallest drop
    the baseline's cases detect now. Without --like the differences are assumed as
    spread as between two independent answers, an upper bound: a candidate that agrees
    with the baseline on most cases needs fewer. --like RUN measures the spread between
    the baseline and a rerun. The numbers come from the SQL function
    evaltool.plan_sample_size. A run is given by id, or by model name for that model's
    latest completed run.

    \b
    Example:
        evaltool plan --baseline 41 --detect 0.02
        evaltool plan --baseline 41 --detect 0.02 --like 43 --metric exact_match
        evaltool plan --baseline prod-model --detect 0.05 --power 0.9 --json
    """
    with db.connect() as conn:
        baseline = runs.resolve(conn, baseline_ref)
        like = runs.resolve(conn, like_ref) if like_ref is not None else None
        result = comparing.plan(conn, baseline, detect, alpha, power, like, list(metrics))
    if as_json:
        echo_json(result)
    else:
        _table(result)


def _label(run: dict[str, Any]) -> str:
    return f"run {run['run_id']} ({run['model']} on {run['dataset']}:{run['dataset_version']})"


def _table(result: dict[str, Any]) -> None:
    rows = result["metrics"]
    click.echo(f"baseline {_label(result['baseline'])}")
    click.echo(
        f"to detect a drop of {result['detect']:g} {result['power']:.0%} of the time, "
        f"two-sided test at alpha {result['alpha']:g}"
    )
    click.echo()
    echo_table(
        [
            "metric",
            "kind",
            "cases now",
            "baseline",
            "sd of differences",
            "cases needed",
            "detectable now",
        ],
        [
            [
                r["metric"],
                "pass/fail" if r["kind"] == "pass_fail" else "continuous",
                r["n_cases"],
                display.number(r["baseline_mean"], empty=""),
                display.number(r["sd_diff"], empty=""),
                r["n_needed"],
                display.number(r["mde_now"], empty=""),
            ]
            for r in rows
        ],
    )
    usual = (
        "independent" if result["like"] is None else f"paired with run {result['like']['run_id']}"
    )
    for r in rows:
        if r["basis"] != usual:
            click.echo(f"({r['metric']}: {r['basis']})")
    if result["like"] is None:
        click.echo(
            "(independent: the candidate's answers assumed no more alike the baseline's than "
            "two independent draws, an upper bound; --like RUN uses a rerun's observed spread)"
        )
    else:
        click.echo(
            f"(paired with {_label(result['like'])}: the spread between the baseline and a "
            "rerun; a candidate that differs more than a rerun needs more cases)"
        )
