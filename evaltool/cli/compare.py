"""`evaltool compare`: per-metric verdicts of a candidate run against a baseline run."""

import json
from itertools import groupby
from operator import itemgetter
from typing import Any

import click

from evaltool import compare as comparing
from evaltool import db, runs
from evaltool.cli.output import (
    alpha_option,
    echo_json,
    echo_table,
    fail_on_regression_option,
    metrics_option,
    number_text,
)
from evaltool.errors import CheckFailed
from evaltool.reports import render


@click.command(name="compare")
@click.argument("baseline")
@click.argument("candidate")
@metrics_option
@alpha_option
@fail_on_regression_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "md", "json"]),
    default="table",
    show_default=True,
    help="table for people, md for a pull-request comment, json for scripts.",
)
@click.option(
    "--worst",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Regressed test cases to list per metric.",
)
def compare(
    baseline: str,
    candidate: str,
    metrics: tuple[str, ...],
    alpha: float,
    fail_on_regression: bool,
    fmt: str,
    worst: int,
) -> None:
    """Compare run CANDIDATE against run BASELINE, metric by metric.

    Only test cases scored in both runs are paired. Pass/fail metrics get the exact
    McNemar test, continuous ones the Wilcoxon signed-rank test; each metric's verdict is
    regressed, improved or no significant change at --alpha. The delta is candidate minus
    baseline, with its confidence interval. Regressed test cases (passed before, failed
    now) follow, worst first. The numbers come from the SQL function evaltool.compare_runs.
    A run is given by id, or by model name for that model's latest completed run.

    \b
    Example:
        evaltool compare 41 42
        evaltool compare 41 42 --metric exact_match --fail-on-regression   # in CI
        evaltool compare 41 42 --format md > comment.md
        evaltool compare prod-model new-model --fail-on-regression
    """
    with db.connect() as conn:
        result = comparing.compare(
            conn,
            runs.resolve(conn, baseline),
            runs.resolve(conn, candidate),
            metrics=list(metrics),
            alpha=alpha,
            worst=worst,
        )
    if fmt == "json":
        echo_json(result)
    elif fmt == "md":
        click.echo(render.render("compare", "md", result), nl=False)
    else:
        _table(result)
    if fail_on_regression and result["regressed"]:
        raise CheckFailed(f"regression in {', '.join(result['regressed'])} (alpha {alpha})")


def _label(run: dict[str, Any]) -> str:
    return f"run {run['run_id']} ({run['model']} on {run['dataset']}:{run['dataset_version']})"


def _delta(row: dict[str, Any]) -> str:
    if row["delta"] is None:
        return ""
    text = f"{row['delta']:+.3f}"
    if row["ci_low"] is not None:
        text += f" ({row['ci_low']:+.3f}..{row['ci_high']:+.3f})"
    return text


def _table(result: dict[str, Any]) -> None:
    click.echo(f"baseline  {_label(result['baseline'])}")
    click.echo(f"candidate {_label(result['candidate'])}")
    click.echo(f"alpha {result['alpha']}; delta = candidate - baseline, with its interval")
    click.echo()
    echo_table(
        [
            "metric",
            "test",
            "n",
            "baseline",
            "candidate",
            "delta (CI)",
            "worse",
            "better",
            "p",
            "verdict",
        ],
        [
            [
                r["metric"],
                r["test"],
                r["n_paired"],
                number_text(r["baseline_mean"]),
                number_text(r["candidate_mean"]),
                _delta(r),
                r["worse"],
                r["better"],
                render.pvalue(r["p_value"]),
                r["verdict"],
            ]
            for r in result["metrics"]
        ],
    )
    unpaired = sum(r["n_unpaired"] for r in result["metrics"])
    if unpaired:
        click.echo(f"({unpaired} scores are in one run only and were left out)")
    for metric, group in groupby(result["regressions"], key=itemgetter("metric")):
        cases = list(group)
        click.echo(f"\n{metric}: {cases[0]['total']} regressed test case(s)")
        for case in cases:
            click.echo(
                f"  {case['external_id'] or case['prompt_id']}: "
                f"expected {_short(case['expected'])}, "
                f"was {_short(case['baseline_output'])}, "
                f"now {_short(case['candidate_output'])}"
            )
        if cases[0]["total"] > len(cases):
            click.echo(f"  ... and {cases[0]['total'] - len(cases)} more")


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
