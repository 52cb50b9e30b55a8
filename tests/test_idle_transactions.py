"""No evaltool session sits idle in a transaction while a run works: such a session holds
back vacuum, and the queue's dead rows then make every claim slower (a 300,000-case run
once spent 90% of a CPU claiming). Checked from pg_stat_activity, on each way a run is
worked: a new run, --resume, and --worker."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.model_servers import ModelServer

pytestmark = pytest.mark.slow
RunCli = Callable[..., Result]


def _evaltool(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "evaltool", *args, "--concurrency", "4", "-q"],
        env={**env, "EVALTOOL_DATABASE_URL": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str]) -> int:
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return process.returncode


def _watch(conn: psycopg.Connection, process: subprocess.Popen[str]) -> list[tuple]:
    """Sessions of this database idle in a transaction for more than half a second,
    seen while the process runs."""
    conn.autocommit = True
    seen = []
    while process.poll() is None:
        seen += conn.execute(
            """SELECT application_name, left(query, 80), now() - xact_start
               FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND state LIKE 'idle in transaction%%'
                 AND xact_start < now() - interval '0.5 s'"""
        ).fetchall()
        time.sleep(0.05)
    return seen


def test_no_session_is_idle_in_a_transaction_during_a_run(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(120)))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    with ModelServer(delay=0.05) as server:
        added = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
        assert added.exit_code == 0
        # a new run
        run = _evaltool(db_url, "run", "m", "qa", "--limit", "40")
        assert _watch(conn, run) == []
        _finished(run)
        # a worker of a prepared run
        assert run_cli("run", "m", "qa", "--prepare").exit_code == 0
        worker = _evaltool(db_url, "run", "--worker", "2")
        time.sleep(0.3)
        worker.terminate()  # interrupted half way: resumed below
        worker.communicate(timeout=60)
        # --resume, with errors to redo
        resumed = _evaltool(db_url, "run", "--resume", "2", "--retry-errors")
        assert _watch(conn, resumed) == []
        _finished(resumed)
        worker = _evaltool(db_url, "run", "--worker", "2")
        assert _watch(conn, worker) == []
        _finished(worker)
