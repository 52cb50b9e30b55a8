"""Comparing two runs: verdicts from evaltool.compare_runs, worst cases from regressions."""

from typing import Any

import psycopg
from psycopg.rows import dict_row

from evaltool import queries
from evaltool.errors import EvaltoolError


def compare(
    conn: psycopg.Connection,
    baseline: int,
    candidate: int,
    *,
    metrics: list[str] | None = None,
    alpha: float = 0.05,
    worst: int = 10,
) -> dict[str, Any]:
    """The comparison of two runs as one document: both runs, per-metric verdicts, and up to
    `worst` regressed test cases per metric. `metrics` limits it to those metrics."""
    with conn.cursor(row_factory=dict_row) as cur:
        runs = {}
        for role, run_id in (("baseline", baseline), ("candidate", candidate)):
            runs[role] = cur.execute(queries.get("run_summary"), {"run_id": run_id}).fetchone()
            if runs[role] is None:
                raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
        params = {"baseline": baseline, "candidate": candidate, "alpha": alpha}
        rows = cur.execute(queries.get("compare_runs"), params).fetchall()
        if metrics:
            unknown = sorted(set(metrics) - {r["metric"] for r in rows})
            if unknown:
                have = ", ".join(r["metric"] for r in rows) or "none"
                raise EvaltoolError(
                    f"metric {', '.join(unknown)} is not scored in these runs (scored: {have})"
                )
            rows = [r for r in rows if r["metric"] in metrics]
        params |= {"limit": worst, "metrics": [r["metric"] for r in rows]}
        cases = cur.execute(queries.get("compare_regressions"), params).fetchall()
    return {
        **runs,
        "alpha": alpha,
        "metrics": rows,
        "regressions": cases,
        "regressed": [r["metric"] for r in rows if r["verdict"] == "regressed"],
    }
