"""The documents that report templates render, each read from the views and SQL
functions only: nothing that SQL computes is computed again here. The comparison's
document is evaltool.compare's; that of several candidates wraps theirs."""

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from evaltool import queries, runs
from evaltool.errors import EvaltoolError


def run_report(
    conn: psycopg.Connection,
    run_id: int,
    *,
    metric: str | None = None,
    bins: int = 20,
    worst: int = 10,
) -> dict[str, Any]:
    """One run: what ran, its summary and metric statistics (runs.show), score and
    latency histograms, its most frequent errors and, for a run with repeats, its flakiest
    test cases (at most `worst` of each). `metric` is the one whose pass rate leads the
    summary (default: the first pass/fail metric)."""
    shown = runs.show(conn, run_id)
    with conn.cursor(row_factory=dict_row) as cur:
        histograms: dict[str, list[dict[str, Any]]] = {}
        params = {"run_id": run_id, "bins": bins}
        for row in cur.execute(queries.get("report_score_histograms"), params):
            histograms.setdefault(row.pop("metric"), []).append(row)
        latency = cur.execute(queries.get("report_latency_histogram"), params).fetchall()
        errors = cur.execute(
            queries.get("report_run_errors"), {"run_id": run_id, "limit": worst}
        ).fetchall()
        flaky = []
        if shown["summary"]["repeats"] > 1:
            flaky = cur.execute(
                queries.get("report_flaky_cases"), {"run_id": run_id, "limit": worst}
            ).fetchall()
    return {
        **shown,
        "primary": _primary(shown["metrics"], metric),
        "score_histograms": histograms,
        "latency_histogram": latency,
        "errors": errors,
        "errors_total": errors[0]["total"] if errors else 0,
        "flaky": flaky,
        "flaky_total": flaky[0]["total"] if flaky else 0,
    }


def leaderboard_report(
    conn: psycopg.Connection,
    *,
    dataset: str | None = None,
    metrics: list[str] | None = None,
) -> dict[str, Any]:
    """Models ranked per dataset and metric by their latest completed run, from the per-run
    statistics (current as soon as a run's scores are)."""
    params = {"dataset": dataset, "metrics": metrics or None}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(queries.get("report_leaderboard"), params).fetchall()
    boards: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        boards.setdefault((row["dataset"], row["dataset_version"], row["metric"]), []).append(row)
    return {
        "dataset": dataset,
        "boards": [
            {"dataset": d, "dataset_version": v, "metric": m, "rows": board}
            for (d, v, m), board in boards.items()
        ],
    }


def cost_report(
    conn: psycopg.Connection, since: date, until: date, at_prices: date | None = None
) -> dict[str, Any]:
    """Calls, tokens and cost from since to until (both days included): the total, and per
    day, model, project and user, from cost_daily; with `at_prices`, also their cost at the
    prices in force on that day."""
    if until < since:
        raise EvaltoolError(f"--until {until} is before --since {since}")
    params = {"since": since, "until": until, "at_prices": at_prices}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(queries.get("report_cost"), params).fetchall()
    groups = ("total", "day", "model", "project", "user")
    by: dict[str, list[dict[str, Any]]] = {group: [] for group in groups}
    for row in rows:
        by[row["by"]].append(row)
    return {
        "since": since,
        "until": until,
        "at_prices": at_prices,
        "total": by["total"][0] if by["total"] else None,
        "days": by["day"],
        "models": by["model"],
        "projects": by["project"],
        "users": by["user"],
    }


def compare_many_report(
    documents: list[dict[str, Any]],
    conn: psycopg.Connection | None = None,
    *,
    cases: int = 50,
) -> dict[str, Any]:
    """The comparisons of several candidates with one baseline (compare.compare_many) as
    one document: the baseline, every run, each candidate's comparison, the policy, and
    with `conn` (and `cases` > 0) the test cases where the runs' outputs or pass/fail
    verdicts differ, side by side: up to `cases` of them, the most disagreement first, and
    how many there are in all (outputs_total). outputs is None where none were read."""
    first = documents[0]
    every_run = [first["baseline"], *(d["candidate"] for d in documents)]
    outputs = None
    total = 0
    if conn is not None and cases > 0:
        metrics = sorted({r["metric"] for d in documents for r in d["metrics"]} - {"availability"})
        params = {"runs": [r["run_id"] for r in every_run], "metrics": metrics, "limit": cases}
        outputs = queries.fetch_all(conn, "compare_outputs", params)
        total = outputs[0]["total"] if outputs else 0
    return {
        "baseline": first["baseline"],
        "runs": every_run,
        "comparisons": documents,
        **{k: first[k] for k in ("alpha", "missing", "correction", "by", "cluster", "margins")},
        "failed": [d for d in documents if d["failed"]],
        "no_data": [d for d in documents if d["no_data"]],
        "outputs": outputs,
        "outputs_total": total,
    }


def _primary(metrics: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    if name is not None:
        for row in metrics:
            if row["metric"] == name:
                return row
        have = ", ".join(r["metric"] for r in metrics) or "none"
        raise EvaltoolError(f"metric {name} is not scored in this run (scored: {have})")
    return next((r for r in metrics if r["pass_rate"] is not None), None)
