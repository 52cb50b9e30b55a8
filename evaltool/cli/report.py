"""`evaltool report`: self-contained HTML and Markdown reports rendered from the views."""

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from evaltool import compare as comparing
from evaltool import db, runs
from evaltool.cli import types
from evaltool.cli.output import comparison_options, renamed, worst_option
from evaltool.files import written_whole
from evaltool.reports import data, render


def _output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="File to write: .html or .md. Without it, Markdown goes to stdout.",
    )(command)
    return click.option(
        "--template-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Templates here replace the built-in ones of the same name (KIND.html.j2, ...). "
        "A template is a program that runs with your rights: use only templates you trust.",
    )(command)


@click.group(name="report")
def report() -> None:
    """Render reports from the database as self-contained HTML or Markdown.

    HTML reports are one file with inline styles and SVG charts: they open offline,
    print well and follow the reader's light or dark mode. Markdown is GitHub-flavoured,
    fit for a pull-request comment. The format follows the extension of -o; without -o,
    Markdown is printed. Every number comes from the views and SQL functions; every
    model input and output is escaped.

    --template-dir replaces the built-in templates with your own. Jinja templates are code,
    not data: one can read your files, your environment and the database, and run any
    program, with your rights. Use only templates you wrote or trust as you would a script.

    \b
    Example:
        evaltool report run 42 -o run-42.html
        evaltool report compare 41 42 -o compare.md
        evaltool report compare 41 42 43 -o candidates.html   # several candidates
        evaltool report leaderboard --dataset qa -o leaderboard.html
        evaltool report cost --since 2026-11-01 --until 2026-11-30 -o cost.html
    """


@report.command(name="run")
@click.argument("run_ref", type=types.RUN, metavar="RUN")
@click.option(
    "--metric",
    type=types.TEXT,
    help="Metric whose pass rate leads the summary (default: the first).",
)
@click.option(
    "--bins", type=click.IntRange(2, 200), default=20, show_default=True, help="Histogram bins."
)
@worst_option
@_output_options
def report_run(
    run_ref: str,
    metric: str | None,
    bins: int,
    worst: int,
    output: Path | None,
    template_dir: Path | None,
) -> None:
    """One run: what ran, summary, metrics with intervals, distributions, errors.

    RUN is a run id, or a model name for that model's latest completed run.

    \b
    Example:
        evaltool report run 42 -o run-42.html
        evaltool report run my-model --metric exact_match -o run.md
    """
    with db.connect() as conn:
        document = data.run_report(
            conn, runs.resolve(conn, run_ref), metric=metric, bins=bins, worst=worst
        )
    _emit("run", document, output, template_dir)


@report.command(name="compare")
@click.argument("baseline", type=types.RUN)
@click.argument("candidates", type=types.RUN, nargs=-1, required=True, metavar="CANDIDATE...")
@comparison_options
@worst_option
@click.option(
    "--side-by-side",
    "side_by_side",
    type=types.count(0),
    default=50,
    show_default=True,
    help="With several candidates: most test cases whose outputs (or pass/fail verdicts) "
    "differ to show with every run's output side by side, the most disagreement first; "
    "0 leaves them out.",
)
@_output_options
def report_compare(
    baseline: str,
    candidates: tuple[str, ...],
    metrics: tuple[str, ...],
    policy: comparing.Policy,
    fail_on_regression: bool,
    worst: int,
    side_by_side: int,
    output: Path | None,
    template_dir: Path | None,
) -> None:
    """CANDIDATE against BASELINE: verdicts, deltas with intervals, worst regressions.

    The verdicts are those of `evaltool compare` (the SQL function compare_runs), with the
    same options; with --fail-on-regression the report is written before the exit code
    says so.

    With several candidates, each gets its verdict table against the baseline, corrected
    over all of them together (as `evaltool compare BASELINE CANDIDATE...`), and the test
    cases where the runs disagree are shown side by side: input, expected, and every run's
    output (its first sample), with the words that differ from the baseline's marked.

    \b
    Example:
        evaltool report compare 41 42 -o compare.html
        evaltool report compare prod-model new-model -o comment.md --fail-on-regression
        evaltool report compare 41 42 43 44 -o candidates.html     # three candidates
        evaltool report compare 41 42 43 --side-by-side 200 -o all.html
    """
    with db.connect() as conn:
        documents = comparing.compare_many(
            conn,
            runs.resolve(conn, baseline),
            [runs.resolve(conn, candidate) for candidate in candidates],
            metrics=list(metrics),
            policy=policy,
            worst=worst,
        )
        if len(documents) == 1:
            kind, document = "compare", documents[0]
        else:
            kind = "compare_many"
            document = data.compare_many_report(documents, conn, cases=side_by_side)
    _emit(kind, document, output, template_dir)
    comparing.gate_many(documents, enforce=fail_on_regression)


@report.command(name="leaderboard")
@click.option("--dataset", type=types.TEXT, help="Only this dataset (all versions).")
@click.option(
    "--metric", "metrics", type=types.TEXT, multiple=True, help="Only this metric (repeatable)."
)
@_output_options
def report_leaderboard(
    dataset: str | None,
    metrics: tuple[str, ...],
    output: Path | None,
    template_dir: Path | None,
) -> None:
    """Models ranked per dataset and metric by their latest completed run.

    Read from the materialized aggregates: run `evaltool refresh` first for the latest
    scores. The report says when they were refreshed.

    \b
    Example:
        evaltool refresh && evaltool report leaderboard --dataset qa -o leaderboard.html
    """
    with db.connect() as conn:
        document = data.leaderboard_report(conn, dataset=dataset, metrics=list(metrics))
    _emit("leaderboard", document, output, template_dir)


@report.command(name="cost")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (default: 29 days before --until).",
)
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@click.option("--from", "old_from", type=click.DateTime(["%Y-%m-%d"]), hidden=True)
@click.option("--to", "old_to", type=click.DateTime(["%Y-%m-%d"]), hidden=True)
@click.option(
    "--at-prices",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Also what the same calls would cost at the prices in force on this day.",
)
@_output_options
def report_cost(
    since: Any,
    until: Any,
    old_from: Any,
    old_to: Any,
    at_prices: Any,
    output: Path | None,
    template_dir: Path | None,
) -> None:
    """What model calls cost, per day, model, project and user.

    Both days are included; days are those of the database session's time zone. Costs
    are at the price in force at each call: a price entered or corrected later re-prices
    the calls it covers. --at-prices DAY adds what the same tokens would cost at that
    day's prices, for a decision to switch models or to plan a budget.

    \b
    Example:
        evaltool report cost -o cost.html                      # the last 30 days
        evaltool report cost --since 2026-11-01 --until 2026-11-30 -o november.md
        evaltool report cost --at-prices 2026-12-01            # last month at today's prices
    """
    since = renamed(since, old_from, "--from", "--since")
    until = renamed(until, old_to, "--to", "--until")
    last = until.date() if until else date.today()
    # the 30 days up to --until, or as many as the calendar has before it
    first = since.date() if since else last - min(timedelta(days=29), last - date.min)
    with db.connect() as conn:
        document = data.cost_report(conn, first, last, at_prices.date() if at_prices else None)
    _emit("cost", document, output, template_dir)


def _emit(kind: str, document: dict[str, Any], output: Path | None, templates: Path | None) -> None:
    """Markdown to stdout, or the file -o names, written whole or not at all."""
    if output is None:
        click.echo(render.render(kind, "md", document, templates), nl=False)
        return
    text = render.render(kind, render.format_of(output), document, templates)
    with written_whole(output) as handle:
        handle.write(text)
    click.echo(f"wrote {output}")
