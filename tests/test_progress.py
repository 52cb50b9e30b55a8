"""Progress as people see it: a bar with counts, rate and ETA on a terminal, the phase the
database is in while it works, a plain line now and then in a log, nothing with --quiet."""

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import Result

from tests.scores import make_runs
from tests.terminal import run_on_terminal

pytestmark = pytest.mark.slow

RunCli = Callable[..., Result]

# a scorer that takes its time over each case and says so, as llm_judge does
SLOW = """
import time
from evaltool.pyscorers import scored

def slow(cases, arg):
    results = []
    for case in cases:
        time.sleep(float(arg or 0))
        scored()
        results.append(1.0)
    return results
"""
# what a plain line may hold: no bar, no carriage return, no escape sequence
PLAIN = re.compile(r"[ -~]*")


def env_for(db_url: str, **more: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")},
        "EVALTOOL_DATABASE_URL": db_url,
        **more,
    }


def evaltool(*args: str) -> list[str]:
    return [sys.executable, "-m", "evaltool", *args]


def make_file(path: Path, rows: int) -> Path:
    path.write_text("".join(json.dumps({"input": f"case {i}"}) + "\n" for i in range(rows)))
    return path


def slow_metric(tmp_path: Path, seconds: float) -> str:
    (tmp_path / "slow.py").write_text(SLOW)
    return f"slow=python:{tmp_path / 'slow.py'}:slow:{seconds}"


def test_a_load_on_a_terminal_shows_a_bar_then_the_database_at_work(
    db_url: str, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "a.jsonl", 2000)
    command = evaltool("load", "prompts", str(source), "-d", "qa")
    returncode, stdout, seen = run_on_terminal(command, env_for(db_url))
    assert returncode == 0
    drawn = seen.decode()
    assert "loading prompts: 100%|" in drawn  # the share of the file read, as a bar
    assert re.search(r"\| [\d.]+ / [\d.]+ MB  2,000 rows  [\d,]+ rows/s  ETA 00:00", drawn)
    # once staged, the phases of the database instead of a counter that stands still
    assert re.search(r"loading prompts: 2,000 rows; checking [-|/\\] 00:00", drawn)
    assert re.search(r"loading prompts: 2,000 rows; inserting [-|/\\] 00:00", drawn)
    assert stdout.startswith("prompts: 2,000 read, 2,000 inserted")


def test_python_scoring_on_a_terminal_shows_a_bar_over_the_responses(
    conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    (run_id,) = make_runs(conn, [{"expected": "x"}] * 4, runs=1)
    metric = slow_metric(tmp_path, 0.3)
    command = evaltool("score", str(run_id), "--metric", metric)
    returncode, stdout, seen = run_on_terminal(command, env_for(db_url))
    assert returncode == 0, stdout
    drawn = seen.decode()
    # case by case, though the scorer gets the four in one batch
    for done in (1, 2, 3):
        assert re.search(
            rf"scoring slow: +\d+%\|[^|]*\| {done}/4  [\d.]+/s  ETA \d\d:\d\d"
            r"  errors 0",
            drawn,
        ), drawn
    assert "scoring slow: writing scores " in drawn
    assert stdout.startswith(f"run {run_id}: 1 metric scored")


def test_a_long_step_off_a_terminal_prints_a_plain_line_now_and_then(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (run_id,) = make_runs(conn, [{"expected": "x"}] * 4, runs=1)
    metric = slow_metric(tmp_path, 0.3)
    env = {"EVALTOOL_PROGRESS_INTERVAL": "0.1"}
    result = run_cli("score", str(run_id), "--metric", metric, env=env)
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    done = set()
    for line in lines:  # 1.2 s of scoring, a line every 0.1 s
        assert PLAIN.fullmatch(line), line
        if re.fullmatch(r"scoring slow: writing scores \(\d\d:\d\d\)", line):
            continue  # the last step, should it take a tenth of a second
        found = re.fullmatch(
            r"scoring slow: (\d)/4 responses \(\d+%\), [\d.]+ responses/s,"
            r" ETA (\?|\d\d:\d\d), errors 0",
            line,
        )
        assert found, line
        done.add(found.group(1))
    assert len(done) >= 2, lines  # the count moves from line to line


def test_the_database_at_work_off_a_terminal_is_a_phase_with_its_seconds(
    db_url: str, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "a.jsonl", 3)
    with psycopg.connect(db_url) as locker:
        # reads go on, the INSERT waits: the load stays in its phase "inserting"
        locker.execute("LOCK TABLE evaltool.prompt IN SHARE MODE")
        load = subprocess.Popen(
            evaltool("load", "prompts", str(source), "-d", "qa"),
            env=env_for(db_url, EVALTOOL_PROGRESS_INTERVAL="0.1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert load.stderr is not None
            line = ""
            # a deadline only so that a bug cannot hang the suite; not a measure
            deadline = time.monotonic() + 60
            while "inserting" not in line and time.monotonic() < deadline:
                ready, _, _ = select.select([load.stderr], [], [], 1)
                if ready:
                    line = load.stderr.readline()
                    assert line, "the load ended"
        finally:
            locker.rollback()
        stdout, rest = load.communicate(timeout=60)
    assert re.fullmatch(r"loading prompts: 3 rows; inserting \(00:00\)\n", line), line
    assert all(PLAIN.fullmatch(other) for other in rest.splitlines())
    assert load.returncode == 0 and stdout.startswith("prompts: 3 read, 3 inserted")


def test_a_short_step_off_a_terminal_prints_nothing(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (run_id,) = make_runs(conn, [{"expected": "x"}] * 4, runs=1)
    python = run_cli("score", str(run_id), "--metric", slow_metric(tmp_path, 0))
    sql = run_cli("score", str(run_id), "--metric", "exact_match")
    assert (python.exit_code, python.stderr) == (0, "")
    assert (sql.exit_code, sql.stderr) == (0, "")


def test_quiet_prints_nothing(
    run_cli: RunCli, conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    (run_id,) = make_runs(conn, [{"expected": "x"}] * 4, runs=1)
    env = {"EVALTOOL_PROGRESS_INTERVAL": "0.1"}
    metric = slow_metric(tmp_path, 0.1)
    result = run_cli("score", str(run_id), "--metric", metric, "--quiet", env=env)
    assert (result.exit_code, result.stderr) == (0, "")
    source = make_file(tmp_path / "a.jsonl", 2000)
    command = evaltool("load", "prompts", str(source), "-d", "qa", "--quiet")
    returncode, stdout, seen = run_on_terminal(command, env_for(db_url))
    assert (returncode, seen.strip()) == (0, b"")
    assert stdout.startswith("prompts: 2,000 read")


def test_runs_archive_on_a_terminal_counts_responses_then_removes_rows(
    conn: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    make_runs(conn, [{}] * 3, runs=2)
    target = tmp_path / "old.jsonl.gz"
    command = evaltool("runs", "archive", "--before", "2999-01-01", "--to", str(target), "--yes")
    returncode, stdout, seen = run_on_terminal(command, env_for(db_url))
    assert returncode == 0, stdout
    drawn = seen.decode()
    assert re.search(r"archiving 2 run\(s\): +\d+%\|[^|]*\| \d/6 ", drawn), drawn
    assert "archiving 2 run(s): 6/6 responses; removing rows " in drawn
    assert stdout.startswith("archived 2 run(s), 6 responses")
