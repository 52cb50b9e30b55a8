"""`evaltool eval`: run a suite file's whole evaluation with one command."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evaltool import display
from evaltool.cli.compare import print_verdicts
from evaltool.cli.output import echo_json, echo_table, json_option, quiet_option

if TYPE_CHECKING:
    from evaltool.evaluation import Evaluation


@click.command(name="eval")
@click.argument("suite_file", metavar="SUITE.yaml", type=click.Path(path_type=Path), required=False)
@click.option(
    "--init",
    "init",
    is_flag=True,
    help="Write a commented starter suite to SUITE.yaml (default: evaltool-suite.yaml).",
)
@click.option(
    "--check", is_flag=True, help="Only validate the file (and what it names in the database)."
)
@quiet_option
@json_option
def eval_suite(
    suite_file: Path | None, init: bool, check: bool, quiet: bool, as_json: bool
) -> None:
    """Run the evaluation SUITE.yaml describes: load, run, score, compare, gate, report.

    The suite names a dataset (or files to load), models (registered, or defined in the
    file), prompt templates, metrics, repeats, a baseline, a gate and reports (see
    docs/suite.md; editors complete the file from docs/suite.schema.json). Everything it
    names is checked before anything runs: an unknown key, a wrong type or a missing model
    is one line naming the file and the key path, exit 2. Each model runs once with each
    template; answers already in the response cache are reused. Then every run but the
    baseline is compared with it (one family of tests across all of them), reports are
    written, and the exit code is that of `evaltool compare --fail-on-regression`: 1 when
    the gate fails (unless the gate says fail_on_regression: false). The runs are named by
    the suite: `evaltool runs list --suite NAME` is its leaderboard.

    \b
    Example:
        evaltool eval --init                     # writes evaltool-suite.yaml, commented
        evaltool eval examples/qa-suite.yaml     # the demo's evaluation
        evaltool eval suite.yaml --check         # validate only, e.g. in pre-commit
        evaltool eval suite.yaml --json | jq '.comparisons[].failed'
    """
    # pydantic and the suite's code load only for this command: other commands start faster
    from evaltool import api, evaluation, suite
    from evaltool import compare as comparing

    if init:
        target = suite_file or Path("evaltool-suite.yaml")
        suite.init(target)
        click.echo(f"wrote {target}: edit it, then run: evaltool eval {target}")
        return
    if suite_file is None:
        raise click.UsageError("give SUITE.yaml, or --init to write a starter one")
    loaded = suite.load(suite_file)
    with api.connect() as ev:
        if check:
            evaluation.check(ev, loaded)
            click.echo(f"{suite_file}: valid")
            return
        done = evaluation.evaluate(ev, loaded, progress=not quiet and not as_json)
    if as_json:
        echo_json(
            {
                "suite": loaded.name,
                "runs": done.runs,
                "baseline": done.baseline,
                "comparisons": done.comparisons,
                "reports": [str(p) for p in done.reports],
            }
        )
    else:
        _summary(done)
    if loaded.fail_on_regression and done.comparisons:
        comparing.gate_many(done.comparisons, enforce=True)


def _summary(done: "Evaluation") -> None:
    click.echo(f"suite {done.suite.name}: {len(done.runs)} run{'s' if len(done.runs) != 1 else ''}")
    echo_table(
        ["run", "model", "template", "status", "ok", "errors", "cached", "cost", "p50 ms"],
        [
            [
                r["run_id"],
                r["model"],
                r["template"] or "",
                r["status"],
                r["ok"],
                r["errors"],
                r["cached"],
                display.cost(r["cost_usd"]),
                "" if r["latency_p50_ms"] is None else f"{r['latency_p50_ms']:,.0f}",
            ]
            for r in done.runs
        ],
    )
    metrics = [(r["run_id"], m) for r in done.runs for m in done.metrics.get(r["run_id"], [])]
    if metrics:
        click.echo()
        echo_table(
            ["run", "metric", "n", "pass rate", "mean"],
            [
                [run_id, m["metric"], m["n"], _rate(m), display.number(m["mean"])]
                for run_id, m in metrics
            ],
        )
    if done.comparisons:
        click.echo()
        for i, document in enumerate(done.comparisons):
            if i:
                click.echo()
            print_verdicts(document)
    elif done.baseline is None and done.suite.baseline == "previous":
        click.echo(f"\nno earlier run of suite {done.suite.name} to compare with yet")
    for path in done.reports:
        click.echo(f"wrote {path}")


def _rate(metric: dict[str, Any]) -> str:
    if metric["pass_rate"] is None:
        return ""
    return (
        f"{display.percent(metric['pass_rate'])} "
        f"[{display.percent(metric['pass_rate_low'])}, {display.percent(metric['pass_rate_high'])}]"
    )
