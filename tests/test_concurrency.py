"""Two commands creating the same thing at the same moment: both succeed, nothing is lost."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evaltool import datasets, models
from evaltool.datasets import DatasetRef

THREADS = 8


def env_for(db_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")},
        "EVALTOOL_DATABASE_URL": db_url,
    }


def at_once(db_url: str, work: Callable[[psycopg.Connection], Any]) -> list[Any]:
    """Run `work` on THREADS connections released together; its results, or its exceptions."""
    connections = [psycopg.connect(db_url) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def one(i: int) -> None:
        conn = connections[i]
        barrier.wait()
        try:
            with conn.transaction():
                results[i] = work(conn)
        except Exception as exc:  # reported by the test, with its type
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections:
        conn.close()
    return results


@pytest.mark.parametrize("attempt", range(3))
def test_threads_creating_one_dataset_all_get_it(db_url: str, attempt: int) -> None:
    ref = DatasetRef("fresh", project=f"new-project-{attempt}")
    results = at_once(db_url, lambda conn: datasets.ensure(conn, ref))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert sum(r.project_created for r in results) == 1


def test_threads_registering_one_model_on_a_new_provider(db_url: str) -> None:
    def register(conn: psycopg.Connection) -> bool:
        return models.add(
            conn,
            "shared",
            adapter="openai",
            model_id="m",
            provider="brand-new",
            exist_ok=True,
        )

    results = at_once(db_url, register)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [False] * (THREADS - 1) + [True]


def wait_for_blocked(conn: psycopg.Connection, sessions: int) -> None:
    """Return once `sessions` other sessions of this database wait for a lock."""
    deadline = time.monotonic() + 60  # not a measure: only so that a bug cannot hang the suite
    while time.monotonic() < deadline:
        (waiting,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        ).fetchone()
        if waiting >= sessions:
            return
        time.sleep(0.02)
    raise AssertionError(f"{sessions} sessions did not block within 60 s")


@pytest.mark.slow
@pytest.mark.parametrize("new", ["project", "dataset"])
def test_two_first_loads_into_one_new_dataset_both_succeed(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, new: str
) -> None:
    source = tmp_path / "cases.jsonl"
    lines = [json.dumps({"id": f"c{i}", "input": f"question {i}"}) for i in range(300)]
    source.write_text("\n".join(lines) + "\n")
    for attempt in range(3):
        project, name = (f"p{attempt}", "qa") if new == "project" else ("default", f"qa{attempt}")
        command = [sys.executable, "-m", "evaltool", "load", "prompts", str(source)]
        with psycopg.connect(db_url) as gate:
            # The same "at once" on every machine: both loads wait on a row of the project
            # (or dataset) that this session is creating, then race when it gives up.
            if new == "project":
                gate.execute("INSERT INTO evaltool.project (name) VALUES (%s)", [project])
            else:
                gate.execute(
                    "INSERT INTO evaltool.dataset (project_id, name) VALUES (1, %s)", [name]
                )
            processes = [
                subprocess.Popen(
                    [*command, "-d", name, "--project", project, "--json"],
                    env=env_for(db_url),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            wait_for_blocked(conn, 2)
            gate.rollback()
        outcomes = [process.communicate(timeout=120) for process in processes]
        for process, (_, stderr) in zip(processes, outcomes, strict=True):
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr
        summaries = [json.loads(stdout) for stdout, _ in outcomes]
        # One load created the dataset and inserted every line; the other counted them all
        # as duplicates.
        assert sorted(s["inserted"] for s in summaries) == [0, 300], summaries
        assert sorted(s["duplicates"] for s in summaries) == [0, 300], summaries
        assert sorted(len(s["created"]) for s in summaries)[0] == 0, summaries
        stored = conn.execute(
            "SELECT count(*) FROM evaltool.prompt p JOIN evaltool.dataset d "
            "ON d.id = p.dataset_id JOIN evaltool.project j ON j.id = d.project_id "
            "WHERE j.name = %s AND d.name = %s",
            [project, name],
        ).fetchone()
        assert stored == (300,)
