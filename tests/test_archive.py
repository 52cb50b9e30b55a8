"""evaltool runs archive and evaltool load archive: old runs' rows go to a file and come back
as they were, while the runs keep their summaries and statistics."""

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import psycopg
from click.testing import Result

from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]

ROWS = """
SELECT (SELECT array_agg((r.*)::text ORDER BY r.id) FROM evaltool.response r
        WHERE r.run_id = ANY(%(runs)s))::text,
       (SELECT array_agg((s.*)::text ORDER BY s.id) FROM evaltool.score s
        WHERE s.run_id = ANY(%(runs)s))::text,
       (SELECT array_agg((h.*)::text ORDER BY h.id) FROM evaltool.score_history h
        WHERE h.run_id = ANY(%(runs)s))::text,
       (SELECT array_agg((p.*)::text ORDER BY p.id) FROM evaltool.preference p)::text,
       (SELECT array_agg((to_jsonb(m) - 'computed_at')::text ORDER BY m.run_id, m.metric)
        FROM evaltool.run_metric_stats m WHERE m.run_id = ANY(%(runs)s))::text
"""
# cost_daily, as report cost reads it: archived runs keep their cost
COST = "SELECT * FROM evaltool.cost_daily ORDER BY day, project, created_by, model"
SUMMARY = """
SELECT run_id, test_cases, ok, errors, input_tokens, cost_usd, latency_p50_ms
FROM evaltool.run_summary WHERE run_id = ANY(%(runs)s) ORDER BY run_id
"""


def history(conn: psycopg.Connection, old: int, new: int) -> None:
    """Two old runs (one judged against the other, one rescored) and a recent one."""
    conn.execute(
        "UPDATE evaltool.run SET created_at = now() - interval '200 days' WHERE id <> %s", [new]
    )
    conn.execute(
        """UPDATE evaltool.response SET input_tokens = 10, cost_usd = 0.001,
                  latency_ms = id * 10, cache_key = sha256(id::text::bytea)"""
    )
    conn.execute("UPDATE evaltool.score SET value = 0.25 WHERE run_id = %s AND value = 0", [old])
    conn.execute(
        """INSERT INTO evaltool.preference (response_a_id, response_b_id, winner, judge_kind,
                                            judge, prompt_id)
           SELECT a.id, b.id, 'a', 'human', 'ann', a.prompt_id
           FROM evaltool.response a JOIN evaltool.response b ON b.prompt_id = a.prompt_id
           WHERE a.run_id = %s AND b.run_id = %s""",
        [old, new],
    )


def test_archive_then_restore_gives_back_every_row(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    old, older, new = make_runs(conn, [{}] * 3, runs=3)
    for run_id in (old, older, new):
        put_scores(conn, run_id, "ok", [1.0, 0.0, 1.0], [True, False, True])
    history(conn, old, new)
    runs = [old, older, new]
    before = conn.execute(ROWS, {"runs": runs}).fetchone()
    summary = conn.execute(SUMMARY, {"runs": runs}).fetchall()
    cost = conn.execute(COST).fetchall()
    assert sum(row[6] for row in cost) == 9 * 10  # input tokens of 9 responses
    preview = run_cli("runs", "archive", "--before", "90d", "--dry-run")
    assert (preview.exit_code, preview.stdout) == (0, f"2 run(s) to archive: {old}, {older}\n")

    path = tmp_path / "old.jsonl.gz"
    done = run_cli("runs", "archive", "--before", "90d", "--to", str(path), "--yes", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["runs"] == [old, older]
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert len(lines) == 6 and {line["response"]["run_id"] for line in lines} == {old, older}
    # the rows are gone; the runs, their summaries and statistics stay
    count = "SELECT count(*) FROM evaltool.{} WHERE run_id = ANY(%s)"
    for table in ("response", "score", "score_history"):
        assert conn.execute(count.format(table), [[old, older]]).fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM evaltool.preference").fetchone() == (0,)
    assert conn.execute(SUMMARY, {"runs": runs}).fetchall() == summary
    assert conn.execute(COST).fetchall() == cost
    after = conn.execute(ROWS, {"runs": runs}).fetchone()
    assert after[4] == before[4]  # run_metric_stats
    listed = json.loads(run_cli("runs", "list", "--json").stdout)
    assert {r["run_id"]: r["ok"] for r in listed} == {old: 3, older: 3, new: 3}
    again = run_cli("runs", "archive", "--before", "90d", "--yes")
    assert again.stdout == "0 run(s) to archive\n"
    # an archived run has no rows here: comparing or scoring it is refused, naming the file
    refused = (
        f"run {old} is archived (in {path}): restore it to compare it,"
        f" with evaltool load archive {path}"
    )
    assert run_cli("compare", str(old), str(new)).stderr == f"Error: {refused}\n"
    assert "restore it to score it" in run_cli("score", str(old), "--metric", "exact_match").stderr

    restored = run_cli("load", "archive", str(path), "--json")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["inserted"] == 6
    assert conn.execute(ROWS, {"runs": runs}).fetchone() == before
    assert conn.execute(SUMMARY, {"runs": runs}).fetchall() == summary
    assert conn.execute(COST).fetchall() == cost  # not twice
    assert conn.execute("SELECT count(*) FROM evaltool.run_archived").fetchone() == (0,)
    twice = run_cli("load", "archive", str(path))
    assert twice.exit_code == 2
    assert twice.stderr == f"Error: {path}:1: run {old} is not archived: its rows are here\n"


def test_a_range_of_archived_runs_loses_its_partitions_and_gets_them_back(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: Path
) -> None:
    (first,) = make_runs(conn, [{}] * 2, runs=1)
    put_scores(conn, first, "ok", [1.0, 0.0], [True, False])
    conn.execute("SELECT setval(pg_get_serial_sequence('evaltool.run', 'id'), 150)")
    (late,) = make_runs(conn, [{}] * 2, runs=1)  # in the next range: the first range closes
    conn.execute("UPDATE evaltool.run SET created_at = now() - interval '1 year' WHERE id = %s",
                 [first])  # fmt: skip
    before = conn.execute(ROWS, {"runs": [first]}).fetchone()
    path = tmp_path / "a.jsonl"
    done = run_cli("runs", "archive", "--before", "30d", "--to", str(path), "--yes", "--json")
    assert json.loads(done.stdout)["dropped_ranges"] == [[1, 101]]
    parts = """SELECT count(*) FROM pg_class WHERE relnamespace = 'evaltool'::regnamespace
               AND relname IN ('response_1', 'score_1', 'score_history_1')"""
    assert conn.execute(parts).fetchone() == (0,)
    assert run_cli("load", "archive", str(path)).exit_code == 0
    assert conn.execute(parts).fetchone() == (3,)
    assert conn.execute(ROWS, {"runs": [first]}).fetchone() == before
    assert conn.execute(
        "SELECT count(*) FROM evaltool.run_partition WHERE dropped_at IS NOT NULL"
    ).fetchone() == (0,)
    assert late > first


def test_lines_that_are_not_an_archive_are_named(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"evaltool_archive": 1, "response": {"id": 1, "run_id": 7}, "scores": [],'
                    ' "history": [], "preferences": []}\n{"id": "q1"}\n')  # fmt: skip
    result = run_cli("load", "archive", str(path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {path}:1: run 7 is not in this database\n",
    )
