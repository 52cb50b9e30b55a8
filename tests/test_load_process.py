"""Loads as a user runs them, in their own process: terminal progress, memory, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.terminal import run_on_terminal

pytestmark = pytest.mark.slow

PEAK_RSS = (
    "import atexit, resource, sys; "
    "atexit.register(lambda: print('peak_kb', resource.getrusage(resource.RUSAGE_SELF)"
    ".ru_maxrss, file=sys.stderr)); "
    "from evaltool.cli import main; sys.argv = ['evaltool'] + sys.argv[1:]; main()"
)


def env_for(db_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")},
        "EVALTOOL_DATABASE_URL": db_url,
    }


def make_file(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        for i in range(rows):
            text = f"case {i} " + 'lorem ipsum \t dolor \\ sit "amet" 漢字 🎉 ' * 12
            out.write(json.dumps({"id": f"c{i}", "input": text, "expected": str(i % 7)}) + "\n")
    return path


def test_progress_shows_on_a_terminal_only(db_url: str, tmp_path: Path) -> None:
    source = make_file(tmp_path / "a.jsonl", 2000)
    command = [sys.executable, "-m", "evaltool", "load", "prompts", str(source), "-d", "qa"]
    returncode, stdout, seen = run_on_terminal(command, env_for(db_url))
    assert returncode == 0
    assert b"loading prompts: " in seen and b" rows/s " in seen and b" MB" in seen
    assert stdout.startswith("prompts: 2,000 read, 2,000 inserted")

    piped = subprocess.run(
        [*command[:-1], "qa2"], env=env_for(db_url), capture_output=True, text=True, check=True
    )
    assert piped.stderr == ""  # not a terminal: no progress at all


def peak_kb(db_url: str, source: Path, dataset: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "load", "prompts", str(source), "-d", dataset, "--json"],
        env=env_for(db_url),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["inserted"] > 0
    return int(result.stderr.split("peak_kb")[1].split()[0])


def test_memory_does_not_grow_with_the_file(db_url: str, tmp_path: Path) -> None:
    small = make_file(tmp_path / "small.jsonl", 4_000)
    large = make_file(tmp_path / "large.jsonl", 40_000)
    growth_mb = (peak_kb(db_url, large, "large") - peak_kb(db_url, small, "small")) / 1024
    size_mb = (large.stat().st_size - small.stat().st_size) / 1e6
    # Holding the extra lines would cost at least their size; streaming costs nothing more.
    assert size_mb > 20
    assert growth_mb < 8, f"peak memory grew {growth_mb:.1f} MB for {size_mb:.0f} MB more input"


def wait_for_copy(conn: psycopg.Connection) -> None:
    """Return once another session of this database is running the staging COPY."""
    deadline = time.monotonic() + 60  # not a measure: only so that a bug cannot hang the suite
    while time.monotonic() < deadline:
        (copying,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'active'"
            " AND query LIKE 'COPY pg_temp.evaltool_stage %%'"
        ).fetchone()
        if copying:
            return
        time.sleep(0.05)
    raise AssertionError("no COPY began within 60 s")


def test_interrupted_load_leaves_nothing(db_url: str, conn: psycopg.Connection) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaltool", "load", "prompts", "-", "-d", "qa"],
        env=env_for(db_url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C as on a terminal, even where the suite runs as a background job, whose
        # children inherit an ignored SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None
    for i in range(5_000):
        proc.stdin.write(json.dumps({"input": f"row {i}"}).encode() + b"\n")
    proc.stdin.flush()
    wait_for_copy(conn)  # the first blocks are in COPY; stdin stays open
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"Traceback" not in stderr
    assert conn.execute("SELECT count(*) FROM evaltool.prompt").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM evaltool.dataset").fetchone() == (0,)


def test_an_export_into_a_closed_pipe_stops(db_url: str, tmp_path: Path) -> None:
    # as in `evaltool datasets export qa | head -1`: more than a pipe holds, read once
    source = make_file(tmp_path / "a.jsonl", 2000)
    command = [sys.executable, "-m", "evaltool"]
    load = [*command, "load", "prompts", str(source), "-d", "qa"]
    subprocess.run(load, env=env_for(db_url), capture_output=True, check=True)
    export = subprocess.Popen(
        [*command, "datasets", "export", "qa"],
        env=env_for(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().startswith(b'{"id": "c0"')
    export.stdout.close()
    try:
        returncode = export.wait(timeout=30)  # it used to hang, its COPY still open
    finally:
        export.kill()
        export.wait()
        stderr = export.stderr.read()
        export.stderr.close()
    assert returncode != 0 and b"Traceback" not in stderr
