"""`evaltool score`: score a run's responses with built-in SQL scorers."""

import click

from evaltool import db, runs, scoring
from evaltool.cli.output import echo_json, echo_table, json_option, quiet_option


@click.command(name="score")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    required=True,
    metavar="[NAME=]SCORER[:ARG]",
    help="Scorer and its argument (repeatable). The scores are stored under NAME, or else "
    "under SCORER[:ARG] as typed.",
)
@click.option(
    "--partial",
    is_flag=True,
    help="Score a run that still has test cases queued (running, interrupted): only the "
    "responses there are.",
)
@click.option(
    "--reference",
    "reference_ref",
    metavar="RUN",
    help="Compare with this run's outputs instead of the expected answers: a run over the "
    "same dataset (id, or model name for its latest completed run). Metrics are stored as "
    "SCORER[:ARG]@MODEL unless named.",
)
@quiet_option
@json_option
def score(
    run_ref: str,
    metrics: tuple[str, ...],
    partial: bool,
    reference_ref: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Score every response of RUN, one score per response and metric.

    Each scorer is a SQL function that the database applies to the whole run in one
    statement. Scoring again replaces the scores (and records the scorer's version); all
    metrics of one call are written together or not at all. Error responses fail every
    metric; test cases without an expected answer get no score where the scorer needs one.

    NAME= names the metric, so that another scorer or judge can score it later:
    `--metric correct=llm_judge:judge-a`, then `--metric correct=llm_judge:judge-b`
    makes a new scoring of `correct`, and the earlier scores stay in score_history for
    evaltool judges drift to compare. NAME is letters, digits, _ . and -.

    RUN is a run id, or a model name for that model's latest completed run. A run with test
    cases still queued (pending, running, interrupted or failed) is refused: its scores
    would cover a part of it, and compare would pair only that part. --partial scores the
    responses there are, and says so.

    --reference RUN2 scores against another run, such as a reference ("master") model's,
    over the same dataset, so that a dataset without expected answers can be scored too:
    the scorers that compare with the expected answer (all built-in ones but regex,
    json_valid, latency_under and cost_under) compare with RUN2's output for the same test
    case instead (the same sample, else its sample 1); test cases that RUN2 has no answer
    for get no score. The metric is stored as SCORER[:ARG]@MODEL,
    MODEL being RUN2's model (edit_similarity@gpt-4o), beside the one against the expected
    answers, unless NAME= names it.

    \b
    Scorers (SELECT * FROM evaltool.scorer lists them):
      exact_match[:OPTS]         output equals expected; OPTS: case,whitespace,punctuation,all
      contains[:OPTS]            output contains expected (any of an expected list)
      regex[:PATTERN]            output matches PATTERN (default: expected as a pattern)
      json_valid                 output is valid JSON
      json_field_equals:PATH     output JSON at PATH (a.b.0) equals expected at PATH
      numeric_close[:TOL]        last number in output within TOL (or N%) of expected
      edit_similarity[:MIN]      1 - Levenshtein / length; passed when >= MIN
      trigram_similarity[:MIN]   pg_trgm similarity; passed when >= MIN
      latency_under:MS           call succeeded within MS milliseconds
      cost_under:USD             call cost at most USD

    \b
    Python scorers, called in batches of 500 responses:
      python:MODULE:FUNCTION[:ARG]   FUNCTION(cases, arg) returns a result per case
      NAME[:ARG]                     registered in the entry-point group evaltool.scorers
      llm_judge:MODEL[:RUBRIC.j2]    a registered model grades each answer (0..10, pass)

    \b
    Example:
        evaltool score 12 --metric exact_match:case,whitespace --metric latency_under:2000
        evaltool score 12 --metric numeric_close:1% --json
        evaltool score 12 --metric llm_judge:gpt-judge --metric python:my.scorers:bleu
        evaltool score 12 --metric correct=llm_judge:judge-b   # a new judge of `correct`
        evaltool score 13 --metric exact_match --partial    # run 13 is still running
        evaltool score 12 --metric edit_similarity --reference gpt-4o   # vs gpt-4o's run
    """
    specs = [scoring.parse_metric(m) for m in metrics]
    with db.connect() as conn:
        run_id = runs.resolve(conn, run_ref)
        reference = runs.resolve(conn, reference_ref) if reference_ref is not None else None
        note = scoring.unfinished(conn, run_id, partial)
        rows = scoring.score_run(conn, run_id, specs, reference=reference, progress=not quiet)
    if note:
        click.echo(note, err=True)
    if as_json:
        echo_json(rows)
        return
    click.echo(f"run {run_id}: {len(rows)} metric{'s' if len(rows) != 1 else ''} scored")
    echo_table(
        ["metric", "scores", "passed", "pass rate (95% CI)", "mean (95% CI)"],
        [
            [
                r["metric"],
                r["n"],
                r.get("n_passed") if r.get("pass_rate") is not None else None,
                _interval(r.get("pass_rate"), r.get("pass_rate_low"), r.get("pass_rate_high")),
                # a pass/fail metric's mean is its pass rate: shown once
                None
                if r.get("pass_rate") is not None
                else _interval(r.get("mean"), r.get("mean_low"), r.get("mean_high")),
            ]
            for r in rows
        ],
    )


def _interval(value: float | None, low: float | None, high: float | None) -> str | None:
    if value is None:
        return None
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} ({low:.3f}..{high:.3f})"
