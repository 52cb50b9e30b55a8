"""Runs: creating one with its queue of test cases, preparing a resume, and its summary."""

import secrets
import subprocess
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from evaltool import datasets, queries, templates
from evaltool.errors import BudgetExceeded, EvaltoolError
from evaltool.runfilter import RunFilter

# A run of this many queued samples or more has the queue's statistics refreshed
ANALYZE_QUEUED = 10_000


@dataclass(frozen=True)
class RunTarget:
    """A run as a worker needs it."""

    id: int
    model_id: int
    model: str
    dataset: str
    snapshot: dict[str, Any]
    params: dict[str, Any]
    repeats: int
    pending: int
    template: templates.Template | None = None


def create(
    conn: psycopg.Connection,
    model: str,
    dataset: datasets.DatasetRef,
    *,
    name: str | None = None,
    tags: tuple[str, ...] = (),
    notes: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    seed: str | None = None,
    repeats: int = 1,
    options: dict[str, Any] | None = None,
    template: templates.Template | None = None,
    suite: str | None = None,
    max_cost: float | None = None,
) -> int:
    """Create a pending run of MODEL over DATASET with its test cases queued; returns its id.

    `limit` takes the first test cases by id; `sample` takes that many in an order seeded by
    `seed` (random when not given, and recorded so the sample can be drawn again). Each
    test case is asked `repeats` times, its samples. With a `template`, each test case is
    rendered by it into the request; `suite` names the suite file evaluation the run is of;
    `max_cost` is the most (USD) its calls may cost.
    """
    if sample is not None and limit is not None:
        raise EvaltoolError("--limit and --sample are alternatives: give one")
    if sample is not None and seed is None:
        seed = secrets.token_hex(4)
    metadata: dict[str, Any] = {"options": options or {}}
    if sample is not None:
        metadata["sample"] = {"n": sample, "seed": seed}
    if limit is not None:
        metadata["limit"] = limit
    with conn.transaction():
        found = datasets.find(conn, dataset)
        row = conn.execute(
            queries.get("run_create"),
            {
                "model": model,
                "dataset_id": found.id,
                "name": name,
                "git_revision": git_revision(),
                "tags": list(tags),
                "notes": notes,
                "metadata": Jsonb(metadata),
                "repeats": repeats,
                "template_id": template.id if template else None,
                "suite": suite,
                "max_cost": max_cost,
            },
        ).fetchone()
        if row is None:
            raise EvaltoolError(f"no model named {model!r}: see evaltool models list")
        run_id = int(row[0])
        queued = conn.execute(
            queries.get("run_queue"),
            {
                "run_id": run_id,
                "dataset_id": found.id,
                "seed": seed if sample is not None else None,
                "limit": sample if sample is not None else limit,
                "repeats": repeats,
            },
        ).rowcount
        if queued == 0:
            raise EvaltoolError(f"dataset {dataset} has no test cases to run")
        if queued >= ANALYZE_QUEUED:
            conn.execute(queries.get("run_queue_analyze"))
    return run_id


def refresh_connection(conn: psycopg.Connection, run_id: int) -> tuple[dict[str, Any], bool]:
    """The model's connection settings as they are now, taken into the run's snapshot for
    a resume (its model id and parameters stay); and whether they changed."""
    with conn.transaction():
        row = conn.execute(queries.get("run_connection_refresh"), {"run_id": run_id}).fetchone()
    if row is None:
        raise EvaltoolError(f"no run {run_id}")
    return dict(row[0]), bool(row[1])


def set_max_cost(conn: psycopg.Connection, run_id: int, max_cost: float) -> None:
    """Set or raise the most a run may cost (to resume one its limit stopped)."""
    if (
        conn.execute(queries.get("run_max_cost"), {"run_id": run_id, "max_cost": max_cost}).rowcount
        == 0
    ):
        raise EvaltoolError(f"no run {run_id}")


def budget_stop(run_id: int, reason: str) -> BudgetExceeded:
    """The error of a run its spending limit stopped, with what to do."""
    return BudgetExceeded(
        f"run {run_id} stopped: {reason}. Raise the limit (evaltool run --resume {run_id} "
        "--max-cost USD, or evaltool projects budget PROJECT --monthly USD), then: "
        f"evaltool run --resume {run_id}"
    )


def target(conn: psycopg.Connection, run_id: int) -> RunTarget:
    """The run with its model snapshot, parameters and queue size."""
    row = conn.execute(queries.get("run_for_work"), {"run_id": run_id}).fetchone()
    if row is None:
        raise EvaltoolError(f"no run {run_id}")
    rid, model_id, snapshot, params, model, dataset, version, repeats, pending, template_id = row
    template = templates.get(conn, template_id) if template_id is not None else None
    return RunTarget(
        rid, model_id, model, f"{dataset}:{version}", snapshot, params, repeats, pending, template
    )


def requeue_errors(conn: psycopg.Connection, run_id: int) -> int:
    """Queue the run's error responses again; they are replaced when answered."""
    with conn.transaction():
        return conn.execute(queries.get("run_requeue_errors"), {"run_id": run_id}).rowcount


def complete(conn: psycopg.Connection, run_id: int) -> None:
    """Mark the run completed if its queue is empty (a resume with nothing left to do)."""
    with conn.transaction():
        conn.execute(queries.get("run_complete"), {"run_id": run_id})


def summary(conn: psycopg.Connection, run_id: int) -> dict[str, Any]:
    """The run's row of the run_summary view."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(queries.get("run_summary"), {"run_id": run_id}).fetchone()
    assert row is not None
    return row


def error_groups(conn: psycopg.Connection, run_id: int, limit: int = 3) -> list[dict[str, Any]]:
    """The run's most frequent errors (first line) with how many responses have each."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            queries.get("run_error_groups"), {"run_id": run_id, "limit": limit}
        ).fetchall()


def git_revision() -> str | None:
    """The commit checked out in the current directory (with -dirty when it has changes), or
    None outside a git work tree."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40", "--exclude=*"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return described.stdout.strip() or None


def show(conn: psycopg.Connection, run_id: int) -> dict[str, Any]:
    """One run in full: the run row (runs_show), its `summary` (run_summary) and its live
    `metrics` (run_metric_summary)."""
    with conn.cursor(row_factory=dict_row) as cur:
        run = cur.execute(queries.get("runs_show"), {"run_id": run_id}).fetchone()
        if run is None:
            raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
        summary = cur.execute(queries.get("run_summary"), {"run_id": run_id}).fetchone()
        params = {"run_id": run_id, "metrics": None}
        metrics = cur.execute(queries.get("runs_metrics"), params).fetchall()
    return {"run": run, "summary": summary, "metrics": metrics}


def resolve(conn: psycopg.Connection, ref: str) -> int:
    """A run id from RUN as typed: a number, or a model name for its latest completed run."""
    if ref.isascii() and ref.isdigit():
        if len(ref) > 19 or int(ref) > 2**63 - 1:  # beyond bigint: no run has that id
            raise EvaltoolError(f"no run {ref}: see evaltool runs list")
        return int(ref)
    row = conn.execute(queries.get("runs_latest_of_model"), {"model": ref}).fetchone()
    if row is None:
        raise EvaltoolError(f"{ref!r} is neither a run id nor a model with a completed run")
    return int(row[0])


def refuse_archived(conn: psycopg.Connection, run_ids: list[int], doing: str) -> None:
    """Refuse to score or compare runs whose rows are in an archive file: they have none
    here, and an empty run would read as a real result."""
    row = conn.execute(queries.get("runs_archived"), {"runs": run_ids}).fetchone()
    if row is not None:
        raise EvaltoolError(
            f"run {row[0]} is archived (in {row[1]}): restore it to {doing} it, with "
            f"evaltool load archive {row[1]}"
        )


def find(conn: psycopg.Connection, found: RunFilter, limit: int) -> list[dict[str, Any]]:
    """The runs a filter matches, newest first, at most `limit`."""
    return queries.fetch_all(conn, "runs_find", {**found.params(), "limit": limit})


def delete(conn: psycopg.Connection, ids: list[int]) -> list[int]:
    """Delete runs with their responses and scores, in one transaction; the ids deleted."""
    with conn.transaction():
        return [r[0] for r in conn.execute(queries.get("runs_delete"), {"ids": ids})]


def flaky(
    conn: psycopg.Connection,
    run_id: int,
    *,
    metric: str | None = None,
    limit: int = 20,
    across_runs: bool = False,
) -> dict[str, Any]:
    """The flakiest test cases of a run, at most `limit`: those whose samples disagree on a
    pass/fail metric (flaky_case), or with `across_runs` those that passed in some completed
    runs of its model over its dataset and failed in others of one configuration
    (flaky_case_history).

    Returns `run` (runs_flaky_run), `cases`, `total` (how many in all) and `history`: for
    a run of one sample per test case, which has no within-run flakiness, how many test
    cases its history has (else None).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        run = cur.execute(queries.get("runs_flaky_run"), {"run_id": run_id}).fetchone()
        if run is None:
            raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
        params = {
            "run_id": run_id,
            "model_id": run["model_id"],
            "dataset_id": run["dataset_id"],
            "metric": metric,
            "limit": limit,
        }
        history = None
        if across_runs:
            cases = cur.execute(queries.get("runs_flaky_history"), params).fetchall()
        elif run["repeats"] > 1:
            cases = cur.execute(queries.get("runs_flaky"), params).fetchall()
        else:
            cases = []
            found = cur.execute(queries.get("runs_flaky_history"), {**params, "limit": 1})
            first = found.fetchone()
            history = first["total"] if first else 0
    total = cases[0]["total"] if cases else 0
    for case in cases:
        del case["total"]
    return {"run": run, "cases": cases, "total": total, "history": history}
