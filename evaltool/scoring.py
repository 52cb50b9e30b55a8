"""Scoring a run: built-in SQL scorers applied by the database in one statement each, and
Python scorers (evaltool.pyscorers) fed in batches."""

import re
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg.rows import dict_row

from evaltool import pyscorers, queries, runs
from evaltool.errors import EvaltoolError
from evaltool.progress import Step, TaskProgress

# NAME of NAME=SCORER[:ARG]: no colon, so that `regex:a=b` stays scorer regex with arg a=b
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class MetricSpec:
    """A --metric [NAME=]SCORER[:ARG] as typed: the scorer, its argument, and the name of
    the metric if one was given."""

    scorer: str
    arg: str | None
    name: str | None = None

    @property
    def metric(self) -> str:
        """The name the scores are stored under: NAME, else the spec as typed."""
        if self.name is not None:
            return self.name
        return self.scorer if self.arg is None else f"{self.scorer}:{self.arg}"


def parse_metric(text: str) -> MetricSpec:
    """Split [NAME=]SCORER[:ARG]; the argument may itself hold colons (a regex, a path).

    NAME= names the metric, so that another scorer or judge can later score the same
    metric (`correct=llm_judge:judge-a`, then `correct=llm_judge:judge-b`). A text whose
    part before `=` is not a name (`regex:a=b`) has no NAME.
    """
    name, sep, spec = text.partition("=")
    if not sep or not _NAME.match(name):
        name, spec = "", text
    scorer, sep, arg = spec.partition(":")
    if not scorer:
        raise EvaltoolError(
            f"--metric {text!r}: expected [NAME=]SCORER[:ARG], e.g. exact_match:case"
            " or correct=exact_match:case"
        )
    return MetricSpec(scorer, arg if sep and arg else None, name or None)


def unfinished(conn: psycopg.Connection, run_id: int, partial: bool) -> str | None:
    """None when the run has nothing queued. Otherwise, with `partial`, the note that only
    the responses there are get scored; without it, EvaltoolError: scores of a part of a
    run are not the run's scores (and compare would pair only that part)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        s = cur.execute(queries.get("run_summary"), {"run_id": run_id}).fetchone()
    if s is None or s["pending"] == 0:
        return None
    unit = "test cases" if s["repeats"] == 1 else "samples"
    total = s["ok"] + s["errors"] + s["pending"]
    answered = s["ok"] + s["errors"]
    left = f"{s['pending']:,} of {total:,} {unit} are not answered yet"
    if partial:
        return (
            f"run {run_id} is {s['status']}: scored the {answered:,} responses there are; "
            f"{left} (--partial)"
        )
    if s["status"] == "running":
        then = "score it once it completes"
    elif s["status"] == "pending":
        then = f"start it with evaltool run --worker {run_id}"
    else:
        then = f"finish it with evaltool run --resume {run_id}"
    raise EvaltoolError(
        f"run {run_id} is {s['status']}: {left}; {then}, or score the {answered:,} "
        "responses there are with --partial"
    )


def score_run(
    conn: psycopg.Connection,
    run_id: int,
    specs: list[MetricSpec],
    reference: int | None = None,
    *,
    progress: bool = False,
) -> list[dict]:
    """Score every response of the run with each metric, all in one transaction.

    With `reference`, the id of a run over the same dataset, the built-in scorers that
    compare with the expected answer compare with that run's output for the same test case
    instead (see sql/62_fn_score_run.sql); a metric without NAME= is then stored as
    SCORER[:ARG]@MODEL, MODEL being the reference run's, so that it never replaces the
    scores against the expected answers.

    Returns one summary row per metric (n, passed, pass rate and mean with intervals) plus
    `written`, the scores written by this call. With `progress`, each metric shows its
    progress on stderr (evaltool.progress): a Python scorer's over the responses, a SQL
    scorer's statement as a phase.
    """
    runs.refuse_archived(conn, [run_id] if reference is None else [run_id, reference], "score")
    python = [pyscorers.resolve(spec.scorer, spec.arg) for spec in specs]
    if reference is not None:
        refused = [
            spec.metric for spec, scorer in zip(specs, python, strict=True) if scorer is not None
        ]
        if refused:
            raise EvaltoolError(
                f"--metric {', '.join(refused)}: only the built-in SQL scorers score against"
                " a reference run (--reference)"
            )
        specs = _against_reference(conn, reference, specs)
    metrics = [spec.metric for spec in specs]
    twice = sorted({m for m in metrics if metrics.count(m) > 1})
    if twice:
        raise EvaltoolError(f"--metric {', '.join(twice)} is given twice: one scorer per metric")
    # Python scorers work first, with no transaction open; then every metric is written
    # in one transaction
    prepared: list[pyscorers.PythonScorer | None] = []
    for spec, scorer in zip(specs, python, strict=True):
        if scorer is None:
            prepared.append(None)
            continue
        total = pyscorers.responses(conn, run_id) if progress else 0
        with TaskProgress(
            f"scoring {spec.metric}", total, enabled=progress, unit="responses"
        ) as shown:
            prepared.append(pyscorers.compute(conn, run_id, scorer, spec.metric, shown))
    written: dict[str, int] = {}
    with conn.transaction():
        for spec, scorer in zip(specs, prepared, strict=True):
            label = f"scoring {spec.metric}"
            if scorer is not None:
                with Step(label, "writing scores", enabled=progress):
                    written[spec.metric] = pyscorers.write(conn, run_id, scorer, spec.metric)
                continue
            params = {
                "run_id": run_id,
                "scorer": spec.scorer,
                "arg": spec.arg,
                "metric": spec.metric,
                "reference": reference,
            }
            with Step(label, "in the database", enabled=progress):
                row = conn.execute(queries.get("score_sql"), params).fetchone()
            written[spec.metric] = row[0] if row else 0
    return _summaries(conn, run_id, written)


def _against_reference(
    conn: psycopg.Connection, reference: int, specs: list[MetricSpec]
) -> list[MetricSpec]:
    """The specs with the metric names they get against the reference run: NAME if given,
    else SCORER[:ARG]@MODEL (as score_run names them in SQL)."""
    with conn.transaction():
        params = {"reference": reference}
        found = conn.execute(queries.get("score_reference_model"), params).fetchone()
    if found is None:
        raise EvaltoolError(f"no reference run {reference}: see evaltool runs list")
    model = found[0]
    return [spec if spec.name else replace(spec, name=f"{spec.metric}@{model}") for spec in specs]


def _summaries(conn: psycopg.Connection, run_id: int, written: dict[str, int]) -> list[dict]:
    params: dict[str, Any] = {"run_id": run_id, "metrics": list(written)}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = {r["metric"]: r for r in cur.execute(queries.get("runs_metrics"), params)}
    return [{"metric": m, "written": n, **rows.get(m, {"n": 0})} for m, n in written.items()]
