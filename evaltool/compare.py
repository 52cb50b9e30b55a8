"""Comparing two runs: verdicts from evaltool.compare_runs, worst cases from regressions,
and the gate that a CI job exits on."""

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from evaltool import queries, runs
from evaltool.errors import CheckFailed, EvaltoolError

# metadata.KEY or metadata.KEY.SUBKEY, as compare_runs reads it (#>> on the dotted path)
_METADATA_KEY = re.compile(r"^metadata\.[^.]+(\.[^.]+)*$")


@dataclass(frozen=True)
class Policy:
    """How a comparison is judged: the arguments of evaltool.compare_runs after the runs."""

    alpha: float = 0.05
    missing: str = "worst"  # or "ignore"
    correction: str = "holm"  # or "bh", "none"
    margins: dict[str, float] = field(default_factory=dict)  # "*": every scored metric
    by: str | None = None  # "tag" or "metadata.KEY"
    cluster: str | None = None  # "metadata.KEY"

    def __post_init__(self) -> None:
        if self.by is not None and self.by != "tag" and not _METADATA_KEY.match(self.by):
            raise EvaltoolError(f"--by {self.by}: slice by tag or metadata.KEY (metadata.domain)")
        if self.cluster is not None and not _METADATA_KEY.match(self.cluster):
            raise EvaltoolError(
                f"--cluster {self.cluster}: cluster by metadata.KEY (metadata.document)"
            )

    def margins_json(self) -> Jsonb | None:
        return Jsonb(self.margins) if self.margins else None


def parse_margins(values: tuple[str, ...] | list[str]) -> dict[str, float]:
    """--margin values, `0.02` for every metric or `METRIC=0.02`, as {metric or "*": m}."""
    margins: dict[str, float] = {}
    for value in values:
        metric, _, number = value.rpartition("=")
        try:
            margin = float(number)
        except ValueError:
            raise EvaltoolError(
                f"--margin {value}: give a number (0.02) or METRIC=NUMBER (exact_match=0.02)"
            ) from None
        if not margin >= 0:
            raise EvaltoolError(f"--margin {value}: a margin is a number of 0 or more")
        margins[metric or "*"] = margin
    return margins


def label(row: dict[str, Any]) -> str:
    """A row's name: its metric, and its slice in brackets."""
    return row["metric"] if row["slice"] is None else f"{row['metric']}[{row['slice']}]"


def compare(
    conn: psycopg.Connection,
    baseline: int,
    candidate: int,
    *,
    metrics: list[str] | None = None,
    policy: Policy | None = None,
    worst: int = 10,
) -> dict[str, Any]:
    """The comparison of two runs as one document: both runs, the verdict rows (per metric,
    slice and availability), and up to `worst` regressed test cases per metric. `metrics`
    limits it to those metrics (availability is always there)."""
    (document,) = compare_many(
        conn, baseline, [candidate], metrics=metrics, policy=policy, worst=worst
    )
    return document


def compare_many(
    conn: psycopg.Connection,
    baseline: int,
    candidates: list[int],
    *,
    metrics: list[str] | None = None,
    policy: Policy | None = None,
    worst: int = 10,
) -> list[dict[str, Any]]:
    """Several candidate runs, each against `baseline`: one document per candidate, as
    `compare` gives it, with the correction over the rows of all of them as one family
    (evaltool.compare_candidates). With several, each document names the whole family in
    `candidates`; with one, it is `compare`'s document exactly."""
    policy = policy or Policy()
    if len(set(candidates)) < len(candidates):
        twice = sorted({c for c in candidates if candidates.count(c) > 1})
        raise EvaltoolError(
            f"run {', '.join(map(str, twice))} is given twice: name each candidate once"
        )
    runs.refuse_archived(conn, [baseline, *candidates], "compare")
    base = _summary(conn, baseline)
    summaries = [_summary(conn, c) for c in candidates]
    if metrics:
        both = {"runs": [baseline, *candidates]}
        scored = [r["metric"] for r in queries.fetch_all(conn, "compare_metrics", both)]
        unknown = sorted(set(metrics) - set(scored) - {"availability"})
        if unknown:
            have = ", ".join(scored) or "none"
            these = "these runs" if len(candidates) == 1 else "any of these runs"
            raise EvaltoolError(
                f"metric {', '.join(unknown)} is not scored in {these} (scored: {have})"
            )
    params = {
        "baseline": baseline,
        "candidates": candidates,
        "alpha": policy.alpha,
        "missing": policy.missing,
        "correction": policy.correction,
        "margins": policy.margins_json(),
        "by": policy.by,
        "cluster": policy.cluster,
        "metrics": metrics or None,
    }
    rows_of: dict[int, list[dict[str, Any]]] = {c: [] for c in candidates}
    for row in queries.fetch_all(conn, "compare_candidates", params):
        row["label"] = label(row)
        rows_of[row.pop("candidate")].append(row)
    compared = {r["metric"] for rows in rows_of.values() for r in rows}
    unused = sorted(set(policy.margins) - compared - {"*"})
    if unused:
        raise EvaltoolError(f"--margin names {', '.join(unused)}, which is not compared here")
    documents = []
    for candidate, summary in zip(candidates, summaries, strict=True):
        rows = rows_of[candidate]
        params = {
            "baseline": baseline,
            "candidate": candidate,
            "limit": worst,
            "metrics": sorted({r["metric"] for r in rows}),
        }
        cases = queries.fetch_all(conn, "compare_regressions", params)
        documents.append(
            {
                "baseline": base,
                "candidate": summary,
                "alpha": policy.alpha,
                "missing": policy.missing,
                "correction": policy.correction,
                "by": policy.by,
                "cluster": policy.cluster,
                "margins": policy.margins,
                "compared_metrics": metrics or None,
                **({"candidates": list(candidates)} if len(candidates) > 1 else {}),
                "metrics": rows,
                "regressions": cases,
                "failed": [r["label"] for r in rows if r["gate_passed"] is False],
                "no_data": [r["label"] for r in rows if r["verdict"] == "no paired data"],
            }
        )
    return documents


def record(conn: psycopg.Connection, document: dict[str, Any]) -> int:
    """Keep a comparison (evaltool compare --record) in table comparison; returns its id."""
    rows = document["metrics"]
    policy = {key: document[key] for key in ("alpha", "missing", "correction", "by", "cluster")} | {
        "margins": document["margins"],
        "metrics": document["compared_metrics"],
    }
    if "candidates" in document:  # adjusted together with the other candidates
        policy["candidates"] = document["candidates"]
    params = {
        "baseline": document["baseline"]["run_id"],
        "candidate": document["candidate"]["run_id"],
        "policy": Jsonb(policy),
        "results": Jsonb([{k: v for k, v in r.items() if k != "label"} for r in rows]),
        "gate_passed": None
        if all(r["gate_passed"] is None for r in rows)
        else not any(r["gate_passed"] is False or r["gate_passed"] is None for r in rows),
    }
    with conn.transaction():
        row = conn.execute(queries.get("comparison_record"), params).fetchone()
    assert row is not None
    return int(row[0])


def recheck(
    conn: psycopg.Connection, run_id: int, metric: str, version: str
) -> list[dict[str, Any]]:
    """The recorded comparisons that `run_id` took part in on `metric`, each judged again
    with the scores that `version` of the metric's scorer gave (in each of its runs that
    has them): its verdict then, now, and whether it changed. Nothing is written."""
    params: dict[str, Any] = {"run_id": run_id, "metric": metric}
    found = []
    for c in queries.fetch_all(conn, "comparisons_of_run", params):
        runs = (c["baseline_run_id"], c["candidate_run_id"])
        p = c["policy"]
        # a comparison of several candidates is judged again with those of them still there
        family = c["family"] or [runs[1]]
        with conn.transaction(force_rollback=True):
            rescored = []
            for run in (runs[0], *(f for f in family if f != runs[0])):
                at = {"run_id": run, "metric": metric, "version": version}
                scored = queries.fetch_one(conn, "version_scored", at)
                if scored and scored["exists"]:
                    conn.execute(queries.get("version_swap_out"), at)
                    conn.execute(queries.get("version_swap_in"), at)
                    rescored.append(run)
            again = queries.fetch_all(
                conn,
                "compare_candidates",
                {
                    "baseline": runs[0],
                    "candidates": family,
                    "alpha": p["alpha"],
                    "missing": p["missing"],
                    "correction": p["correction"],
                    "margins": Jsonb(p["margins"]) if p.get("margins") else None,
                    "by": p.get("by"),
                    "cluster": p.get("cluster"),
                    "metrics": p.get("metrics"),
                },
            )
        again = [r for r in again if r["candidate"] == runs[1]]
        verdict = next(
            (r["verdict"] for r in again if r["metric"] == metric and r["slice"] is None), None
        )
        found.append(
            {
                "comparison_id": c["id"],
                "baseline_run_id": runs[0],
                "candidate_run_id": runs[1],
                "created_at": c["created_at"],
                "rescored_runs": rescored,
                "verdict": c["verdict"],
                "verdict_at_version": verdict,
                "changed": verdict != c["verdict"],
            }
        )
    return found


def gate(document: dict[str, Any], *, enforce: bool) -> None:
    """The exit of a comparison: nothing paired at all is an input error (exit 2) whether
    gating or not; with `enforce`, a row without paired data is one too, and a row that
    fails the gate exits 1."""
    gate_many([document], enforce=enforce)


def gate_many(documents: list[dict[str, Any]], *, enforce: bool) -> None:
    """The exit of the comparisons of several candidates with one baseline, as `gate`
    judges one: the first error of any candidate decides, each named by its run."""
    for document in documents:
        if all(r["verdict"] == "no paired data" for r in document["metrics"]):
            raise EvaltoolError(
                f"runs {document['baseline']['run_id']} and {document['candidate']['run_id']} "
                "have no test case in common: nothing can be compared (were they run on the "
                "same dataset version?)"
            )
    if not enforce:
        return

    def rows(key: str) -> str:
        if len(documents) == 1:
            return ", ".join(documents[0][key])
        return "; ".join(
            f"run {d['candidate']['run_id']}: {', '.join(d[key])}" for d in documents if d[key]
        )

    if any(d["no_data"] for d in documents):
        raise EvaltoolError(
            f"no paired data for {rows('no_data')}: the gate cannot pass on what it did not "
            "see (score both runs, or leave the metric out with --metric)"
        )
    if any(d["failed"] for d in documents):
        first = documents[0]
        family = f" over {len(documents)} candidates" if len(documents) > 1 else ""
        raise CheckFailed(
            f"gate failed on {rows('failed')} (alpha {first['alpha']}, "
            f"{first['correction']} correction{family}, missing cases: {first['missing']})"
        )


def plan(
    conn: psycopg.Connection,
    baseline: int,
    detect: float,
    alpha: float,
    power: float,
    like: int | None,
    metrics: list[str],
) -> dict[str, Any]:
    """How many test cases a comparison against `baseline` needs to detect a drop of
    `detect` (evaltool.plan_sample_size), per metric, as one document; `like`, a rerun
    whose observed spread replaces the independent upper bound."""
    labels = {run_id: _summary(conn, run_id) for run_id in (baseline, like) if run_id is not None}
    params = {"baseline": baseline, "detect": detect, "alpha": alpha, "power": power, "like": like}
    rows = queries.fetch_all(conn, "plan_sample_size", params)
    unknown = sorted(set(metrics) - {r["metric"] for r in rows})
    if unknown:
        have = ", ".join(r["metric"] for r in rows) or "none"
        raise EvaltoolError(
            f"metric {', '.join(unknown)} is not scored in run {baseline} (scored: {have})"
        )
    return {
        "baseline": _run(labels[baseline]),
        "like": _run(labels[like]) if like is not None else None,
        "detect": detect,
        "alpha": alpha,
        "power": power,
        "metrics": [r for r in rows if not metrics or r["metric"] in metrics],
    }


def _summary(conn: psycopg.Connection, run_id: int) -> dict[str, Any]:
    """The run_summary row of a run, which must exist."""
    summary = queries.fetch_one(conn, "run_summary", {"run_id": run_id})
    if summary is None:
        raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
    return summary


def _run(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in ("run_id", "model", "dataset", "dataset_version")}
