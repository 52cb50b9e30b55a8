"""`evaltool runs`: list, show, search, export, archive and delete runs, and find their
flaky test cases."""

from datetime import datetime
from pathlib import Path

import click
import psycopg

from evaltool import db, display, runexport, runfilter, runs
from evaltool.cli import types
from evaltool.cli.output import echo_json, echo_table, json_option, output_option, quiet_option
from evaltool.errors import EvaltoolError
from evaltool.progress import TaskProgress
from evaltool.runfilter import RunFilter

_limit_option = click.option(
    "--limit", type=types.count(), default=50, show_default=True, help="At most N runs."
)


@click.group(name="runs")
def runs_group() -> None:
    """Runs of models over datasets: find them, look at one, export one, delete them.

    \b
    Example:
        evaltool runs list --since 7d
        evaltool runs search failed last week
        evaltool runs show 42
    """


@runs_group.command(name="list")
@click.option("--status", type=click.Choice(list(runfilter.STATUSES)), help="Only this status.")
@click.option("--model", type=types.TEXT, help="Only runs of this model.")
@click.option("--dataset", type=types.TEXT, help="Only runs over this dataset.")
@click.option("--tag", type=types.TEXT, help="Only runs with this tag.")
@click.option("--suite", type=types.TEXT, help="Only runs of this suite (evaltool eval).")
@click.option(
    "--since", type=types.MOMENT, help="Created on or after (2026-11-01, or an age: 7d, 12h)."
)
@click.option("--until", type=types.MOMENT, help="Created before (a date or an age).")
@click.option("--min-pass-rate", type=types.FiniteFloat(0, 1), help="Pass rate at least (0..1).")
@_limit_option
@json_option
def list_runs(
    status: str | None,
    model: str | None,
    dataset: str | None,
    tag: str | None,
    suite: str | None,
    since: datetime | None,
    until: datetime | None,
    min_pass_rate: float | None,
    limit: int,
    as_json: bool,
) -> None:
    """List runs, newest first, with their counts, pass rate and cost.

    The pass rate pools every pass/fail score of the run; success is the share of calls
    that did not fail.

    \b
    Example:
        evaltool runs list --status failed --since 7d
        evaltool runs list --model gpt-4o --min-pass-rate 0.8 --json
        evaltool runs list --suite qa-nightly          # a suite's leaderboard of runs
    """
    found = RunFilter(status, model, dataset, tag, suite, since, until, min_pass=min_pass_rate)
    _print_runs(found, limit, as_json)


@runs_group.command(name="search")
@click.argument("query", type=types.TEXT, nargs=-1, required=True)
@_limit_option
@json_option
def search(query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Find runs with a small query language; all parts must match.

    \b
      status:failed  (or just: failed)     model:NAME  dataset:NAME  tag:TAG
      since:7d  until:2026-11-01  today  yesterday  last week  last month
      pass>0.8  pass>80%  success>=95%  duration<60s  duration>5m
      any other word: found in the run's name, notes, tags, model, dataset or status

    \b
    Example:
        evaltool runs search failed last week
        evaltool runs search 'model:gpt-4o success>80%' nightly
    """
    _print_runs(runfilter.parse(" ".join(query)), limit, as_json)


@runs_group.command(name="show")
@click.argument("run_ref", type=types.RUN, metavar="RUN")
@json_option
def show(run_ref: str, as_json: bool) -> None:
    """Show a run: what ran with what, by whom, its counts, cost and metrics.

    RUN is a run id, or a model name for that model's latest completed run.

    \b
    Example:
        evaltool runs show 42
        evaltool runs show demo-v2 --json
    """
    with db.connect() as conn:
        run_id = runs.resolve(conn, run_ref)
        shown = runs.show(conn, run_id)
    run, summary, metrics = shown["run"], shown["summary"], shown["metrics"]
    if as_json:
        echo_json({**run, "summary": summary, "metrics": metrics})
        return
    assert summary is not None
    snapshot = run["model_snapshot"]
    click.echo(f"run {run_id}{' ' + repr(run['name']) if run['name'] else ''}: {run['status']}")
    click.echo(
        f"  model    {summary['model']} ({snapshot.get('adapter')}: "
        f"{snapshot.get('model_id')}), params {run['params'] or {}}"
    )
    click.echo(f"  dataset  {summary['dataset']}:{summary['dataset_version']}")
    click.echo(
        f"  by       {run['created_by']} at {run['created_at']:%Y-%m-%d %H:%M:%S %Z}"
        f"{', git ' + run['git_revision'] if run['git_revision'] else ''}"
    )
    if run["tags"] or run["notes"]:
        click.echo(f"  tags     {', '.join(run['tags'])}  {run['notes'] or ''}".rstrip())
    click.echo(
        f"  cases    {summary['test_cases']}: {summary['ok']} ok, {summary['errors']} "
        f"errors, {summary['pending']} pending; cost {display.cost(summary['cost_usd'])}"
    )
    if metrics:
        click.echo()
        echo_table(
            ["metric", "n", "pass rate (95% CI)", "mean", "p50", "p95"],
            [
                [
                    m["metric"],
                    m["n"],
                    display.rate(m["pass_rate"], m["pass_rate_low"], m["pass_rate_high"], 0, ""),
                    display.number(m["mean"], empty=""),
                    display.number(m["p50"], empty=""),
                    display.number(m["p95"], empty=""),
                ]
                for m in metrics
            ],
        )


@runs_group.command(name="flaky")
@click.argument("run_ref", type=types.RUN, metavar="RUN")
@click.option("--metric", type=types.TEXT, help="Only this metric.")
@click.option(
    "--limit", type=types.count(), default=20, show_default=True, help="At most N test cases."
)
@click.option(
    "--across-runs",
    is_flag=True,
    help="Test cases that passed in some completed runs of RUN's model over its dataset and "
    "failed in others of the same configuration, instead of within RUN.",
)
@json_option
def flaky(run_ref: str, metric: str | None, limit: int, across_runs: bool, as_json: bool) -> None:
    """List the flakiest test cases of a run: those whose samples disagree.

    A run asked with --repeats K has K samples of each test case; a test case is flaky on a
    pass/fail metric when some of its samples passed and some failed. The flakiest come
    first: pass share closest to 50%, then the most samples. With --across-runs, a test
    case is flaky when it passed in some runs and failed in others (each run's verdict:
    most of its samples), among completed runs of the model over the dataset with unchanged
    parameters and model settings. RUN is a run id, or a model name for its latest
    completed run.

    \b
    Example:
        evaltool runs flaky 42
        evaltool runs flaky demo-v2 --metric exact_match --limit 5 --json
        evaltool runs flaky 42 --across-runs
    """
    with db.connect() as conn:
        run_id = runs.resolve(conn, run_ref)
        found = runs.flaky(conn, run_id, metric=metric, limit=limit, across_runs=across_runs)
    run, cases = found["run"], found["cases"]
    if as_json:
        echo_json(cases)
    if found["history"] is not None:
        across = (
            f"; {found['history']} test case(s) passed in some runs of this model and "
            f"dataset and failed in others: evaltool runs flaky {run_id} --across-runs"
            if found["history"]
            else ""
        )
        click.echo(
            f"run {run_id} asked each test case once: within-run flakiness needs samples, "
            f"evaltool run {run['model']} {run['dataset']}:{run['dataset_version']} "
            f"--repeats K{across}",
            err=as_json,
        )
        return
    if as_json:
        return
    if not cases:
        where = (
            f"across completed runs of {run['model']} over {run['dataset']}:"
            f"{run['dataset_version']} with one configuration"
            if across_runs
            else f"in run {run_id}: the {run['repeats']} samples of each test case agree"
        )
        click.echo(f"no flaky test cases {where}")
        return
    if across_runs:
        echo_table(
            ["test case", "metric", "runs", "passed", "failed", "first run", "last run"],
            [
                [
                    c["external_id"] or f"#{c['prompt_id']}",
                    c["metric"],
                    c["runs"],
                    c["runs_passed"],
                    c["runs_failed"],
                    c["first_run_id"],
                    c["last_run_id"],
                ]
                for c in cases
            ],
        )
    else:
        echo_table(
            ["test case", "metric", "samples", "passed", "failed", "pass share"],
            [
                [
                    c["external_id"] or f"#{c['prompt_id']}",
                    c["metric"],
                    c["samples"],
                    c["n_passed"],
                    c["n_failed"],
                    display.percent(c["pass_share"], 0),
                ]
                for c in cases
            ],
        )
    if found["total"] > len(cases):
        click.echo(f"... and {found['total'] - len(cases)} more (--limit)", err=True)


@runs_group.command(name="export")
@click.argument("run_ref", type=types.RUN, metavar="RUN")
@output_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(runexport.FORMATS),
    help="jsonl or csv (default: from the file's name: .jsonl, .json or .csv, then .gz to "
    "compress; jsonl on standard output).",
)
def export(run_ref: str, output: Path | None, fmt: str | None) -> None:
    """Write every response of a run with its test case and scores, one per line.

    For pandas, spreadsheets and other tools: one record per test case and sample, in
    that order, with the run, model, dataset, the test case (input, expected, tags,
    metadata), the response (status, output, output_text, error, latency, tokens, cost,
    attempts) and its scores. In JSON lines, `scores` is {metric: {value, passed, scorer,
    details}}; in CSV, each metric M has the columns score.M (its value, or true/false for
    a pass/fail score) and passed.M, JSON values are JSON text, and a text cell that
    a spreadsheet would run as a formula starts with a single quote. The rows stream
    from the database: memory stays flat for any size of run; a file appears only once
    whole. RUN is a run id, or a model name for its latest completed run.

    \b
    Example:
        evaltool runs export 42 -o run42.csv
        evaltool runs export demo-v2 -o demo-v2.jsonl.gz
        evaltool runs export 42 | jq -c 'select(.scores.exact_match.passed == false)'
    """
    fmt, compress = runexport.format_of(output, fmt)
    with db.connect() as conn:
        # The score columns and the rows: one snapshot, however long the export takes.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        run_id = runs.resolve(conn, run_ref)
        count = runexport.export(conn, run_id, output, fmt, compress)
    if output:
        click.echo(f"wrote {count:,} responses of run {run_id} to {output}", err=True)


@runs_group.command(name="delete")
@click.argument("run_refs", type=types.RUN, metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(run_refs: tuple[str, ...], yes: bool) -> None:
    """Delete runs with their responses and scores. This cannot be undone.

    \b
    Example:
        evaltool runs delete 41 42 --yes
    """
    with db.connect() as conn:
        ids = [runs.resolve(conn, ref) for ref in run_refs]
        if not yes:
            click.confirm(
                f"Delete run(s) {', '.join(map(str, ids))} with their responses and scores?",
                abort=True,
            )
        deleted = runs.delete(conn, ids)
    missing = sorted(set(ids) - set(deleted))
    if deleted:
        click.echo(f"deleted run(s) {', '.join(map(str, sorted(deleted)))}")
    if missing:
        raise EvaltoolError(f"no run {', '.join(map(str, missing))}")


@runs_group.command(name="archive")
@click.option(
    "--before",
    type=types.MOMENT,
    required=True,
    help="Archive the done runs created before this (a date, or an age such as 90d).",
)
@click.option(
    "--to",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive file (default: evaltool-archive-DATE.jsonl.gz; .gz compresses).",
)
@click.option("--dry-run", is_flag=True, help="Only list the runs it would archive.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@quiet_option
@json_option
def archive_runs(
    before: datetime, path: Path | None, dry_run: bool, yes: bool, quiet: bool, as_json: bool
) -> None:
    """Move old runs' responses and scores to a file, keeping the runs' summaries.

    Every response of the completed, failed or interrupted runs created before --before,
    with its scores, score history and the preferences that name it, is written to a gzip
    JSON Lines file; only once the file is whole are the rows removed, in one transaction.
    The runs stay, with their statistics (run_metric_stats) and the summary run_summary
    showed (counts, tokens, cost, latency), so runs list, leaderboards and trends still
    show them; a range of run ids whose runs are all archived has its partitions dropped
    whole. `evaltool load archive FILE` brings everything back, ids included.

    \b
    Example:
        evaltool runs archive --before 180d --dry-run
        evaltool runs archive --before 2026-01-01 --to archive/2025.jsonl.gz --yes
        evaltool load archive archive/2025.jsonl.gz       # and back
    """
    from evaltool import archive

    target = path or Path(f"evaltool-archive-{before:%Y%m%d}.jsonl.gz")
    with db.connect() as conn:
        ids = archive.runs_before(conn, before)
        if dry_run or not ids:
            if as_json:
                echo_json({"runs": ids, "dry_run": dry_run})
            else:
                click.echo(f"{len(ids)} run(s) to archive" + (f": {_ids(ids)}" if ids else ""))
            return
        if not yes:
            click.confirm(
                f"Archive {len(ids)} run(s) ({_ids(ids)}) to {target} and remove their rows?",
                abort=True,
            )
        total = archive.responses(conn, ids)
        label = f"archiving {len(ids)} run(s)"
        with TaskProgress(label, total, enabled=not quiet, unit="responses") as progress:
            done = archive.archive(conn, ids, target, progress)
    if as_json:
        echo_json(done.as_dict())
    else:
        click.echo(
            f"archived {len(done.runs)} run(s), {done.responses:,} responses, to {done.path}"
            + (
                f"; dropped {len(done.dropped_ranges)} partition range(s)"
                if done.dropped_ranges
                else ""
            )
        )


def _ids(ids: list[int], shown: int = 10) -> str:
    text = ", ".join(map(str, ids[:shown]))
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def _print_runs(found: RunFilter, limit: int, as_json: bool) -> None:
    with db.connect() as conn:
        rows = runs.find(conn, found, limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no runs match")
        return
    # the template column only where some run has one (prompt versions side by side)
    templated = any(r["template"] for r in rows)
    echo_table(
        [
            "run",
            "model",
            *(["template"] if templated else []),
            "dataset",
            "status",
            "cases",
            "errors",
            "pass",
            "success",
            "cost",
            "created",
        ],
        [
            [
                r["run_id"],
                r["model"],
                *([r["template"] or ""] if templated else []),
                f"{r['dataset']}:{r['dataset_version']}",
                r["status"],
                r["test_cases"],
                r["errors"],
                display.percent(r["pass_rate"], 0, ""),
                display.percent(r["success_rate"], 0, ""),
                display.cost(r["cost_usd"]),
                f"{r['created_at']:%Y-%m-%d %H:%M}",
            ]
            for r in rows
        ],
    )
