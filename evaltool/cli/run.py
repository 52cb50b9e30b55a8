"""`evaltool run`: run a model over a dataset, resume a run, or join one as a worker."""

from dataclasses import asdict
from typing import Any

import click

from evaltool import adapters, datasets, db, display, models, runner, runs, templates
from evaltool.cli import types
from evaltool.cli.output import echo_json, json_option, quiet_option
from evaltool.errors import EvaltoolError
from evaltool.progress import TaskProgress
from evaltool.runner import CallOptions, Outcome
from evaltool.runs import RunTarget

EXIT_INTERRUPTED = 130


@click.command(name="run")
@click.argument("model", type=types.TEXT, required=False)
@click.argument("dataset", type=types.TEXT, required=False)
@click.option("--project", type=types.NAME, help="Project of the dataset (default: default).")
@click.option("--name", type=types.NAME, help="A name for the run.")
@click.option("--tag", "tags", type=types.NAME, multiple=True, help="Tag the run (repeatable).")
@click.option("--notes", type=types.TEXT, help="Free text kept with the run.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 4096),
    default=8,
    show_default=True,
    help="Calls in flight at once.",
)
@click.option(
    "--rpm", type=types.FiniteFloat(0, min_open=True), help="At most N requests a minute."
)
@click.option("--tpm", type=types.FiniteFloat(0, min_open=True), help="At most N tokens a minute.")
@click.option(
    "--timeout",
    type=types.FiniteFloat(0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds one call may take.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 100),
    default=5,
    show_default=True,
    help="Retries of a call that failed on a 429, a 5xx, a timeout or the connection.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    metavar="K",
    help="Ask each test case K times (samples), to measure sampling noise and flaky cases.",
)
@click.option(
    "--template",
    type=types.TEXT,
    metavar="NAME[:VERSION]",
    help="Render each test case with this prompt template (evaltool templates list).",
)
@click.option(
    "--cache/--no-cache",
    default=None,
    help="Reuse earlier answers of the same model configuration to the same request "
    "(default: on for API models, off for python and command models, whose code may change "
    "under the same name).",
)
@click.option(
    "--cache-only", is_flag=True, help="Answer from the response cache only; fail on a miss."
)
@click.option("--limit", type=types.count(), help="Only the first N test cases (by id).")
@click.option("--sample", type=types.count(), help="Only N test cases, sampled.")
@click.option(
    "--seed", type=types.TEXT, help="Seed of --sample (the same seed draws the same sample)."
)
@click.option(
    "--max-cost",
    type=click.FloatRange(0, min_open=True),
    metavar="USD",
    help="Most the run's calls may cost: workers claim no more work once it is spent and the "
    "run stops as budget_exceeded (exit 1). With --resume: raise it.",
)
@click.option("--prepare", is_flag=True, help="Create and queue the run, print its id, exit.")
@click.option(
    "--resume", type=types.count(), metavar="RUN", help="Finish RUN: its unanswered test cases."
)
@click.option("--retry-errors", is_flag=True, help="With --resume: also redo error responses.")
@click.option("--worker", type=types.count(), metavar="RUN", help="Join RUN as one more worker.")
@click.option(
    "--lease",
    type=types.FiniteFloat(1),
    default=60.0,
    show_default=True,
    help="Seconds a worker holds test cases without renewing; a hung worker's are taken over "
    "then (those of a worker whose database session ended, at once).",
)
@quiet_option
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    model: str | None,
    dataset: str | None,
    project: str | None,
    name: str | None,
    tags: tuple[str, ...],
    notes: str | None,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    timeout: float,
    max_retries: int,
    repeats: int,
    template: str | None,
    cache: bool | None,
    cache_only: bool,
    limit: int | None,
    sample: int | None,
    seed: str | None,
    max_cost: float | None,
    prepare: bool,
    resume: int | None,
    retry_errors: bool,
    worker: int | None,
    lease: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run MODEL over DATASET and store one response per test case (and sample).

    Each response keeps the output, latency, tokens (from the API, or estimated and marked
    so) and cost at the price in force when the call was made. Calls that fail on a rate
    limit (429, honouring a Retry-After of up to 120 s), a 5xx, a timeout or a dropped
    connection are retried with exponential backoff; a call that still fails, or whose
    server asks to wait longer, is stored as an error response. A rejected API key stops
    the run (exit 2). --max-cost USD, or the project's monthly budget (evaltool projects
    budget), stops it once spent: no worker claims more, the calls under way are written,
    and the run is budget_exceeded (exit 1) until resumed with a higher limit.

    Ctrl-C (or SIGTERM) writes the finished responses, marks the run interrupted and exits
    130; --resume RUN then does only what is left. Losing the database mid-run exits 2 with
    the same advice. Several machines can share one run: create it with --prepare, then start
    `evaltool run --worker RUN` anywhere; each test case is answered once. A worker is alive
    while its database session is (it needs a session of its own: no PgBouncer transaction
    pooling); the test cases of a dead one are taken over at once, and `evaltool runs list`
    shows a run whose workers are all gone as interrupted.

    With --repeats K each test case is asked K times (models sampled at temperature > 0
    answer differently from call to call): `evaltool runs flaky RUN` then names the test
    cases whose samples disagree, and `evaltool compare` compares each test case's mean
    over its samples.

    \b
    Example:
        evaltool run gpt-4o-mini golden-qa --concurrency 32 --rpm 500 --tag nightly
        evaltool run my-classifier images:2 --sample 200 --seed 7
        evaltool run gpt-4o-mini golden-qa --repeats 5       # 5 samples per test case
        evaltool run --resume 42 --retry-errors
        evaltool run gpt-4o golden-qa --max-cost 5          # stops when $5 are spent
        evaltool run --resume 44 --max-cost 10             # go on with a higher limit
        evaltool run gpt-4o-mini golden-qa --prepare      # prints the run id, e.g. 43
        evaltool run --worker 43                           # on each worker machine
    """
    chosen = [model is not None, resume is not None, worker is not None]
    if sum(chosen) != 1 or (model is not None) != (dataset is not None):
        raise click.UsageError("give MODEL DATASET, or --resume RUN, or --worker RUN")
    if retry_errors and resume is None:
        raise click.UsageError("--retry-errors goes with --resume RUN")
    if repeats != 1 and model is None:
        raise click.UsageError("--repeats belongs to a new run: give MODEL DATASET")
    if prepare and model is None:
        raise click.UsageError("--prepare creates a new run: give MODEL DATASET")
    if template is not None and model is None:
        raise click.UsageError("--template belongs to a new run: give MODEL DATASET")
    if cache_only and cache is False:
        raise click.UsageError("--cache-only and --no-cache are opposites: give one")
    if max_cost is not None and worker is not None:
        raise click.UsageError(
            "--max-cost belongs to a run: give it with MODEL DATASET or --resume"
        )
    options = CallOptions(concurrency, rpm, tpm, timeout, max_retries, lease)
    with db.connect() as conn:
        if model is not None and dataset is not None:
            with conn.transaction():  # a model that cannot be called leaves no run behind
                found = templates.resolve(conn, template) if template is not None else None
                run_id = runs.create(
                    conn,
                    model,
                    datasets.DatasetRef.parse(dataset, project),
                    name=name,
                    tags=tags,
                    notes=notes,
                    limit=limit,
                    sample=sample,
                    seed=seed,
                    repeats=repeats,
                    options=asdict(options),
                    template=found,
                    max_cost=max_cost,
                )
                target = runs.target(conn, run_id)
                adapter = None if prepare else _adapter(target, concurrency)
            if prepare:
                _prepared(target, as_json)
                return
        else:
            given = resume if resume is not None else worker
            assert given is not None  # checked with the options above
            run_id = given
            if retry_errors:
                runs.requeue_errors(conn, run_id)
            if max_cost is not None:
                runs.set_max_cost(conn, run_id, max_cost)
            if resume is not None:
                settings, changed = runs.refresh_connection(conn, run_id)
                if not quiet:
                    _echo_settings(run_id, settings, changed)
            target = runs.target(conn, run_id)
            adapter = _adapter(target, concurrency) if target.pending else None
        options.cache = runner.cache_mode(target, cache, cache_only)
        if adapter is None:  # nothing left to answer
            runs.complete(conn, run_id)
            outcome = Outcome(worker="")
        else:
            conn.commit()  # idle, not in a transaction, while the worker runs
            label = f"run {run_id} ({target.model} on {target.dataset})"
            with TaskProgress(label, target.pending, enabled=not quiet) as progress:
                outcome = runner.answer(db.database_url(), target, adapter, options, progress)
        summary = runs.summary(conn, run_id)
        groups = runs.error_groups(conn, run_id) if summary["errors"] else []
    if as_json:
        echo_json({**summary, "error_groups": groups, "worker": asdict(outcome)})
    else:
        _echo_summary(summary, groups)
    if outcome.fatal:
        raise EvaltoolError(
            f"run {run_id} stopped: {outcome.fatal}. Fix it, then: evaltool run --resume {run_id}"
        )
    if outcome.budget:
        raise runs.budget_stop(run_id, outcome.budget)
    if outcome.interrupted:
        click.echo(
            f"interrupted: {summary['pending']} test cases left; "
            f"resume with: evaltool run --resume {run_id}",
            err=True,
        )
        ctx.exit(EXIT_INTERRUPTED)


def _echo_settings(run_id: int, settings: dict[str, Any], changed: bool) -> None:
    """Which connection settings a resume uses, on stderr."""
    shown = ", ".join(
        f"{k.replace('_', ' ')} {settings[k]}"
        for k in models.CONNECTION
        if k in settings and k != "headers"
    )
    when = "updated since the run began" if changed else "as when the run began"
    click.echo(
        f"run {run_id} resumes with the model's settings {when}: {shown or 'defaults'}",
        err=True,
    )


def _adapter(target: RunTarget, concurrency: int) -> adapters.Adapter:
    return adapters.create(target.snapshot, target.params, concurrency)


def _prepared(target: RunTarget, as_json: bool) -> None:
    if as_json:
        echo_json({"run_id": target.id, "pending": target.pending})
        return
    what = "samples" if target.repeats > 1 else "test cases"
    click.echo(f"run {target.id}: {target.pending:,} {what} queued")
    click.echo(f"start workers with: evaltool run --worker {target.id}")


def _echo_summary(s: dict[str, Any], groups: list[dict[str, Any]]) -> None:
    template = f" with template {s['template']}" if s["template"] else ""
    click.echo(
        f"run {s['run_id']} {s['status']}: {s['model']} on "
        f"{s['dataset']}:{s['dataset_version']}{template}"
    )
    samples = f" x {s['repeats']} samples" if s["repeats"] > 1 else ""
    click.echo(
        f"  {s['test_cases']:,} test cases{samples}: {s['ok']:,} ok, "
        f"{s['errors']:,} error{'' if s['errors'] == 1 else 's'}, {s['pending']:,} pending"
    )
    if s["input_tokens"] is not None:
        click.echo(
            f"  tokens: {s['input_tokens']:,} in, {s['output_tokens'] or 0:,} out; "
            f"cost: {display.cost(s['cost_usd'])}"
        )
    if s["latency_p50_ms"] is not None:
        click.echo(
            f"  latency: p50 {s['latency_p50_ms']:,.0f} ms, p95 {s['latency_p95_ms']:,.0f} ms"
        )
    if s["cached"]:
        click.echo(f"  {s['cached']:,} answered from the response cache (no call, no cost)")
    for group in groups:  # identical errors once, with how many there are
        count = group["responses"]
        label = "error" if count == 1 else f"{count:,} errors"
        click.echo(f"  {label}: {display.one_line(group['error'])[:200]}")
