"""Judging the judges: does a new version of a scorer or judge agree with the old one on the
same responses (evaltool.judge_drift, from the scores a rescoring kept in score_history),
do two judges of preferences agree (evaltool.judge_agreement), and which scorings a run has.
"""

from typing import Any

import psycopg

from evaltool import compare, queries

# Landis and Koch (1977): the usual words for a kappa, by lower bound.
_READINGS = [
    (0.81, "almost perfect"),
    (0.61, "substantial"),
    (0.41, "moderate"),
    (0.21, "fair"),
    (0.0, "slight"),
]


def reading(kappa: float | None) -> str:
    """A kappa in words, after Landis and Koch (1977)."""
    if kappa is None:
        return "kappa undefined: both sides gave one and the same verdict throughout"
    words = next((w for low, w in _READINGS if kappa >= low), "poor")
    return f"kappa {kappa:.2f}: {words} agreement (Landis & Koch)"


def drift(conn: psycopg.Connection, run_id: int, metric: str, from_v: str, to_v: str) -> dict:
    """Two versions of the scorer or judge of `metric` on the same responses of a run.

    A version is a scorer version, a judge model's name, or a scoring id. The dict holds
    the row of evaltool.judge_drift (n, the scorings of each side, agreement, kappa with
    its interval, the confusion, the mean shift with its interval and p-value), its
    `reading`, and `comparisons`: each comparison recorded with the run (evaltool compare
    --record) judged again under `to_v` (compare.recheck).
    """
    params = {"run_id": run_id, "metric": metric, "from_version": from_v, "to_version": to_v}
    row = queries.fetch_one(conn, "judges_drift", params)
    assert row is not None  # judge_drift returns one row, or raises
    result: dict[str, Any] = {
        "run_id": run_id,
        "metric": metric,
        "from": from_v,
        "to": to_v,
        **row,
        "reading": reading(row["kappa"]) if row["n_pass_fail"] else None,
    }
    # would a recorded gate have come out otherwise under the new version?
    result["comparisons"] = compare.recheck(conn, run_id, metric, to_v)
    return result


def agreement(conn: psycopg.Connection, judge: str, other: str) -> dict:
    """How judge `judge` agrees with `other` (a judge's or annotator's name, or "human"
    for every human judgment) on the preferences of the pairs both judged."""
    row = queries.fetch_one(conn, "judges_agreement", {"judge": judge, "other": other})
    assert row is not None  # judge_agreement returns one row, or raises
    return {
        "judge": judge,
        "with": other,
        **row,
        "reading": reading(row["kappa"]) if row["n"] else None,
    }


def scorings(conn: psycopg.Connection, run_id: int, metric: str | None = None) -> list[dict]:
    """The scorings of a run (of one metric, if given), per metric newest first."""
    return queries.fetch_all(conn, "judges_scorings", {"run_id": run_id, "metric": metric})
