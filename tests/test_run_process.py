"""evaltool run as users run it, in its own processes: Ctrl-C, SIGKILL, resume, expired
leases, and four workers sharing one run."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.model_servers import ModelServer
from tests.terminal import run_on_terminal

pytestmark = pytest.mark.slow
RunCli = Callable[..., Result]


def evaltool(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "evaltool", *args],
        env={**env, "EVALTOOL_DATABASE_URL": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def setup_run(run_cli: RunCli, tmp_path: Path, server: ModelServer, cases: int) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(cases)))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    added = run_cli("models", "add", "m", "--adapter", "openai", "--base-url", server.url)
    assert added.exit_code == 0


def wait_for_responses(conn: psycopg.Connection, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (n,) = conn.execute("SELECT count(*) FROM evaltool.response").fetchone()
        conn.commit()
        if n >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} responses after 60 s")


def state(conn: psycopg.Connection) -> tuple:
    """(run status, responses, distinct test cases answered, queued, queued under lease)"""
    row = conn.execute(
        "SELECT (SELECT status FROM evaltool.run WHERE id = 1),"
        " (SELECT count(*) FROM evaltool.response),"
        " (SELECT count(DISTINCT prompt_id) FROM evaltool.response),"
        " (SELECT count(*) FROM evaltool.run_task),"
        " (SELECT count(*) FROM evaltool.run_task WHERE leased_by IS NOT NULL)"
    ).fetchone()
    conn.commit()
    return row


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_flushes_marks_interrupted_and_resume_completes(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path, sig: signal.Signals
) -> None:
    with ModelServer(hold_after=4) as server:  # the 5th call and later wait: calls in flight
        setup_run(run_cli, tmp_path, server, 40)
        proc = evaltool(db_url, "run", "m", "qa", "--concurrency", "2")
        wait_for_responses(conn, 4)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "resume with: evaltool run --resume 1" in stderr
        assert state(conn) == ("interrupted", 4, 4, 36, 0)
        server.release()
        resumed = evaltool(db_url, "run", "--resume", "1", "--json")
        stdout, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr
    assert json.loads(stdout)["ok"] == 40
    assert state(conn) == ("completed", 40, 40, 0, 0)


def test_sigkill_then_resume_takes_over_the_dead_workers_leases(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(hold_after=4) as server:  # the 5th call and later wait: calls in flight
        setup_run(run_cli, tmp_path, server, 40)
        # leases of 10 minutes: the resume below would hang if it waited for them
        proc = evaltool(db_url, "run", "m", "qa", "--concurrency", "2", "--lease", "600")
        wait_for_responses(conn, 4)
        proc.kill()
        proc.communicate(timeout=60)
        status, answered, _, queued, leased = state(conn)
        assert (status, answered, queued) == ("running", 4, 36) and leased > 0
        server.release()
        resumed = evaltool(db_url, "run", "--resume", "1")
        _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr
    assert state(conn) == ("completed", 40, 40, 0, 0)


def test_a_worker_takes_over_leases_that_expire(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        setup_run(run_cli, tmp_path, server, 10)
        prepared = run_cli("run", "m", "qa", "--prepare", "--json")
        assert json.loads(prepared.stdout) == {"run_id": 1, "pending": 10}
        # a worker on another machine claimed half the run and vanished
        (expired,) = conn.execute(
            "UPDATE evaltool.run_task SET leased_by = 'elsewhere:1:abc',"
            " lease_expires_at = now() + interval '2 seconds', claims = 1"
            " WHERE prompt_id IN (SELECT prompt_id FROM evaltool.run_task"
            " ORDER BY prompt_id LIMIT 5) RETURNING lease_expires_at"
        ).fetchone()
        conn.commit()
        worker = evaltool(db_url, "run", "--worker", "1", "--json")
        stdout, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert json.loads(stdout)["worker"]["ok"] == 10
    assert state(conn) == ("completed", 10, 10, 0, 0)
    # the calls of the leased cases started only once their lease had ended
    late = conn.execute(
        "SELECT p.input #>> '{}' FROM evaltool.response r JOIN evaltool.prompt p"
        " ON p.id = r.prompt_id WHERE r.started_at >= %s ORDER BY 1",
        [expired],
    ).fetchall()
    assert {f"q{i}" for i in range(5)} <= {q for (q,) in late}
    assert len(server.requests) == 10


def test_four_workers_share_a_run_and_answer_each_case_once(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(delay=0.05) as server:
        setup_run(run_cli, tmp_path, server, 200)
        assert run_cli("run", "m", "qa", "--prepare").exit_code == 0
        workers = [
            evaltool(db_url, "run", "--worker", "1", "--json", "--concurrency", "4")
            for _ in range(4)
        ]
        outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [e for _, e in outputs]
    done = [json.loads(out)["worker"] for out, _ in outputs]
    assert sum(d["ok"] for d in done) == 200
    assert all(d["ok"] > 0 for d in done), done
    assert len({d["worker"] for d in done}) == 4
    assert state(conn) == ("completed", 200, 200, 0, 0)
    assert sorted(server.questions()) == sorted(f"q{i}" for i in range(200))  # no call twice


def test_progress_on_a_terminal_and_summary(run_cli: RunCli, db_url: str, tmp_path: Path) -> None:
    with ModelServer(delay=0.02) as server:
        setup_run(run_cli, tmp_path, server, 60)
        source = tmp_path / "bad.jsonl"
        source.write_text(json.dumps({"input": "badreq x"}) + "\n")
        assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
        command = [sys.executable, "-m", "evaltool", "run", "m", "qa", "--concurrency", "2"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
        returncode, stdout, seen = run_on_terminal(
            command, {**env, "EVALTOOL_DATABASE_URL": db_url}
        )
    assert returncode == 0
    drawn = seen.decode()
    assert "run 1 (m on qa:1): " in drawn and "/61  " in drawn
    assert "/s  ETA " in drawn and "  errors " in drawn
    lines = stdout.splitlines()
    assert lines[0] == "run 1 completed: m on qa:1"
    assert lines[1] == "  61 test cases: 60 ok, 1 error, 0 pending"
    assert lines[2].startswith("  tokens: ") and lines[2].endswith("cost: no price set")
    assert lines[3].startswith("  latency: p50 ")
    assert lines[4] == "  error: HTTP 400: context length exceeded"


def test_four_workers_answer_each_sample_of_a_repeated_run_once(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(delay=0.05) as server:
        setup_run(run_cli, tmp_path, server, 50)
        assert run_cli("run", "m", "qa", "--prepare", "--repeats", "3").exit_code == 0
        workers = [
            evaltool(db_url, "run", "--worker", "1", "--json", "--concurrency", "4")
            for _ in range(4)
        ]
        outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [e for _, e in outputs]
    assert sum(json.loads(out)["worker"]["ok"] for out, _ in outputs) == 150
    assert state(conn) == ("completed", 150, 50, 0, 0)
    # every (test case, sample) once: each question exactly three times
    assert sorted(server.questions()) == sorted(f"q{i}" for i in range(50) for _ in range(3))
