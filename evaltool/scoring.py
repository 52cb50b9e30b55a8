"""Scoring a run: built-in SQL scorers applied by the database in one statement each, and
Python scorers (evaltool.pyscorers) fed in batches."""

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from evaltool import pyscorers, queries
from evaltool.errors import EvaltoolError


@dataclass(frozen=True)
class MetricSpec:
    """A --metric NAME[:ARG] as typed: the scorer, its argument, and the metric name."""

    scorer: str
    arg: str | None

    @property
    def metric(self) -> str:
        """The name the scores are stored under: the spec as typed."""
        return self.scorer if self.arg is None else f"{self.scorer}:{self.arg}"


def parse_metric(text: str) -> MetricSpec:
    """Split NAME[:ARG]; the argument may itself hold colons (a regex, a path)."""
    scorer, sep, arg = text.partition(":")
    if not scorer:
        raise EvaltoolError(f"--metric {text!r}: expected NAME[:ARG], e.g. exact_match:case")
    return MetricSpec(scorer, arg if sep and arg else None)


def score_run(conn: psycopg.Connection, run_id: int, specs: list[MetricSpec]) -> list[dict]:
    """Score every response of the run with each metric, all in one transaction.

    Returns one summary row per metric (n, passed, pass rate and mean with intervals) plus
    `written`, the scores written by this call.
    """
    written: dict[str, int] = {}
    python = {spec: pyscorers.resolve(spec.scorer, spec.arg) for spec in specs}
    with conn.transaction():
        for spec in specs:
            scorer = python[spec]
            if scorer is not None:
                written[spec.metric] = pyscorers.score(conn, run_id, scorer, spec.metric)
                continue
            params = {"run_id": run_id, "scorer": spec.scorer, "arg": spec.arg}
            row = conn.execute(queries.get("score_sql"), params).fetchone()
            written[spec.metric] = row[0] if row else 0
    return _summaries(conn, run_id, written)


def _summaries(conn: psycopg.Connection, run_id: int, written: dict[str, int]) -> list[dict]:
    params: dict[str, Any] = {"run_id": run_id, "metrics": list(written)}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = {r["metric"]: r for r in cur.execute(queries.get("runs_metrics"), params)}
    return [{"metric": m, "written": n, **rows.get(m, {"n": 0})} for m, n in written.items()]
