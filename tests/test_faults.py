"""Faults around a run, as users meet them: a worker of another container with the same host
name and process id, a database that goes away mid-run, a run killed outright, scoring a
run that is not done, a server that asks to wait an hour, and a second embedded server in
another PID namespace."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.model_servers import ModelServer
from tests.test_run_process import evaltool, setup_run, state, wait_for_responses

pytestmark = pytest.mark.slow
RunCli = Callable[..., Result]
LOST = (
    "Error: lost the database during run 1: terminating connection due to administrator "
    "command; when it is back: evaltool run --resume 1"
)


def dead_pid() -> int:
    """The id of a process of this host that has ended."""
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def workers_gone(conn: psycopg.Connection) -> None:
    """Wait until no `evaltool run` session is left in this test's database."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (n,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'evaltool%'"
        ).fetchone()
        if n == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the worker's sessions outlived it by 30 s")


def listed_status(run_cli: RunCli) -> str:
    listed = run_cli("runs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    return str(run["status"])


def test_a_live_worker_with_this_hosts_name_and_a_dead_pid_keeps_its_leases(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer() as server:
        setup_run(run_cli, tmp_path, server, 10)
        assert run_cli("run", "m", "qa", "--prepare").exit_code == 0
        # A worker in another container: same host name, its pid is no process here, and
        # its database session is alive, holding its lock and half the run for 10 minutes.
        with psycopg.connect(db_url, autocommit=True) as other:
            key = 4242
            locked = other.execute(
                "SELECT pg_try_advisory_lock(hashtext('evaltool.worker'), %s)", [key]
            )
            assert locked.fetchone() == (True,)
            claimed = conn.execute(
                "UPDATE evaltool.run_task SET leased_by = %s, claims = 1,"
                " lease_expires_at = now() + interval '10 minutes'"
                " WHERE prompt_id IN (SELECT prompt_id FROM evaltool.run_task"
                " ORDER BY prompt_id LIMIT 5)",
                [f"{socket.gethostname()}:{dead_pid()}:lock-{key}"],
            )
            assert claimed.rowcount == 5
            worker = evaltool(db_url, "run", "--worker", "1", "--json")
            wait_for_responses(conn, 5)
            time.sleep(2.5)  # a worker that took it for dead would answer its cases now
            assert worker.poll() is None  # waiting for the live worker's cases
            assert state(conn) == ("running", 5, 5, 5, 5)
            other.close()  # its session ends: it is dead now, and its cases are taken over
            ended = time.monotonic()
        stdout, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert json.loads(stdout)["worker"]["ok"] == 10
    assert state(conn) == ("completed", 10, 10, 0, 0)
    late = sorted(r["question"] for r in server.requests if r["at"] >= ended)
    assert late == [f"q{i}" for i in range(5)]
    assert len(server.requests) == 10


def test_a_terminated_session_ends_the_run_with_the_resume_command(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(delay=0.05) as server:
        setup_run(run_cli, tmp_path, server, 100)
        proc = evaltool(db_url, "run", "m", "qa", "--concurrency", "2")
        wait_for_responses(conn, 4)
        terminated = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'evaltool run'"
        ).fetchall()
        assert terminated == [(True,)]
        stdout, stderr = proc.communicate(timeout=60)
        assert (proc.returncode, stdout, stderr.splitlines()) == (2, "", [LOST])
        workers_gone(conn)
        assert listed_status(run_cli) == "interrupted"
        resumed = evaltool(db_url, "run", "--resume", "1")
        _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr
    assert state(conn) == ("completed", 100, 100, 0, 0)


def test_a_killed_run_is_not_listed_as_running(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    with ModelServer(hold_after=4) as server:  # the 5th call and later wait: calls in flight
        setup_run(run_cli, tmp_path, server, 40)
        proc = evaltool(db_url, "run", "m", "qa", "--concurrency", "2", "--lease", "600")
        wait_for_responses(conn, 4)
        assert listed_status(run_cli) == "running"
        proc.kill()
        proc.communicate(timeout=60)
        workers_gone(conn)
    assert state(conn)[0] == "running"  # as the run row was left
    assert listed_status(run_cli) == "interrupted"
    assert run_cli("runs", "list", "--status", "running").stdout == "no runs match\n"
    assert "interrupted" in run_cli("runs", "list").stdout
    assert run_cli("runs", "show", "1").stdout.startswith("run 1: interrupted\n")


def test_scoring_a_run_that_is_not_done_needs_partial(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    def scores() -> int:
        (n,) = conn.execute("SELECT count(*) FROM evaltool.score").fetchone()
        return int(n)

    with ModelServer(hold_after=4) as server:  # 4 answers, then the calls wait
        setup_run(run_cli, tmp_path, server, 40)
        proc = evaltool(db_url, "run", "m", "qa", "--concurrency", "2")
        wait_for_responses(conn, 4)
        running = run_cli("score", "1", "--metric", "json_valid")
        assert (running.exit_code, running.stdout) == (2, "")
        assert running.stderr == (
            "Error: run 1 is running: 36 of 40 test cases are not answered yet; score it "
            "once it completes, or score the 4 responses there are with --partial\n"
        )
        assert scores() == 0
        proc.send_signal(signal.SIGINT)  # Ctrl-C: interrupted with 36 test cases left
        proc.communicate(timeout=60)
    interrupted = run_cli("score", "1", "--metric", "json_valid")
    assert interrupted.exit_code == 2
    assert interrupted.stderr == (
        "Error: run 1 is interrupted: 36 of 40 test cases are not answered yet; finish it "
        "with evaltool run --resume 1, or score the 4 responses there are with --partial\n"
    )
    assert scores() == 0
    partial = run_cli("score", "1", "--metric", "json_valid", "--partial")
    assert partial.exit_code == 0, partial.stderr
    assert partial.stderr == (
        "run 1 is interrupted: scored the 4 responses there are; 36 of 40 test cases are "
        "not answered yet (--partial)\n"
    )
    assert partial.stdout.startswith("run 1: 1 metric scored\n")
    assert scores() == 4


class _RateLimited(BaseHTTPRequestHandler):
    """Every call: 429, retry in 50 minutes."""

    protocol_version = "HTTP/1.1"
    calls = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            type(self).calls += 1
        body = b'{"error": {"message": "rate limited"}}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "3000")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_retry_after_of_an_hour_fails_the_call_instead_of_waiting(
    run_cli: RunCli, db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(3)))
    assert run_cli("load", "prompts", str(source), "-d", "qa", "--quiet").exit_code == 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimited)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    assert run_cli("models", "add", "m", "--adapter", "openai", "--base-url", url).exit_code == 0
    proc = evaltool(db_url, "run", "m", "qa", "--json", "--max-retries", "5")
    try:
        stdout, stderr = proc.communicate(timeout=60)  # not 5 waits of 50 minutes
    finally:
        proc.kill()
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["status"], summary["ok"], summary["errors"]) == ("completed", 0, 3)
    rows = conn.execute("SELECT error, attempts FROM evaltool.response").fetchall()
    assert rows == [("rate limited: server asked to retry after 3000 s", 1)] * 3
    assert _RateLimited.calls == 3  # not retried


def home_evaltool(home: Path, *args: str, namespace: bool = False) -> subprocess.Popen[str]:
    """`python -m evaltool ARGS` on the embedded server of `home`, or in a new PID namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    prefix = ["unshare", "--pid", "--fork", "--mount-proc"] if namespace else []
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "evaltool", *args],
        env={**env, "EVALTOOL_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home.parent,
    )


def done(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stdout, stderr


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh EVALTOOL_HOME with its embedded server up; stopped afterwards."""
    path = tmp_path / "home"
    path.mkdir()
    code, _, stderr = done(home_evaltool(path, "db", "up"))
    assert code == 0, stderr
    yield path
    done(home_evaltool(path, "db", "stop"))


def can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    tried = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, check=False)  # fmt: skip
    return tried.returncode == 0


@pytest.mark.skipif(not can_unshare(), reason="needs unshare of a PID namespace (root)")
def test_a_server_running_in_another_pid_namespace_is_named_in_one_line(home: Path) -> None:
    code, stdout, stderr = done(home_evaltool(home, "db", "up", namespace=True))
    assert (code, stdout) == (2, "")
    (line,) = stderr.splitlines()
    assert line.startswith(
        f"Error: an embedded PostgreSQL is already running in {home / 'pgdata'} as pid "
    )
    assert (
        " of another container or PID namespace: use it from there, or reach it with "
        "EVALTOOL_DATABASE_URL=postgresql://postgres@/evaltool?host=" in line
    )
    assert "embedded, running" in done(home_evaltool(home, "db", "status"))[1]  # unharmed


def test_stopping_the_database_mid_run_ends_it_with_the_resume_command(
    home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "qa.jsonl"
    source.write_text("".join(json.dumps({"input": f"q{i}"}) + "\n" for i in range(200)))
    assert done(home_evaltool(home, "db", "migrate"))[0] == 0
    assert done(home_evaltool(home, "load", "prompts", str(source), "-d", "qa", "--quiet"))[0] == 0
    with ModelServer(delay=0.05) as server:
        add = ["models", "add", "m", "--adapter", "openai", "--base-url", server.url]
        assert done(home_evaltool(home, *add))[0] == 0
        proc = home_evaltool(home, "run", "m", "qa", "--concurrency", "2")
        lines = (home / "pgdata" / "postmaster.pid").read_text().splitlines()
        url = f"host={lines[4]} port={lines[3]} user=postgres dbname=evaltool"
        with psycopg.connect(url, autocommit=True) as conn:
            wait_for_responses(conn, 4)
        assert done(home_evaltool(home, "db", "stop"))[0] == 0
        assert done(proc) == (2, "", LOST + "\n")
        assert done(home_evaltool(home, "db", "up"))[0] == 0
        code, stdout, _ = done(home_evaltool(home, "runs", "list", "--json"))
        assert (code, json.loads(stdout)[0]["status"]) == (0, "interrupted")
        code, stdout, stderr = done(home_evaltool(home, "run", "--resume", "1", "--json"))
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert (summary["status"], summary["ok"], summary["pending"]) == ("completed", 200, 0)
