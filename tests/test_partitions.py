"""response, score and score_history are partitioned by run (migration 0013): new runs get
their partitions, and the migration keeps every row, id and link both ways."""

from pathlib import Path

import psycopg

from evaltool import migrate
from tests.scores import make_runs, put_scores

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

PARTITIONS = """
SELECT p.relname, pg_get_expr(p.relpartbound, p.oid)
FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
WHERE i.inhparent = %s::regclass ORDER BY p.relname
"""


def test_a_run_past_the_last_range_gets_partitions_in_every_table(
    conn: psycopg.Connection,
) -> None:
    (first,) = make_runs(conn, [{}], runs=1)
    assert conn.execute("SELECT run_from, run_to FROM evaltool.run_partition").fetchall() == [
        (1, 101)
    ]
    conn.execute("SELECT setval(pg_get_serial_sequence('evaltool.run', 'id'), 249)")
    (late,) = make_runs(conn, [{}], runs=1)
    assert late == 250
    put_scores(conn, late, "ok", [1.0], [True])
    # one range past run 250, by at least 100 runs (few runs in the last 30 days): the
    # ids 2 to 249, drawn by transactions that rolled back, make no ranges of their own
    assert conn.execute(
        "SELECT run_from, run_to FROM evaltool.run_partition ORDER BY 1"
    ).fetchall() == [
        (1, 101),
        (101, 350),
    ]
    for table in ("response", "score", "score_history"):
        assert [name for name, _ in conn.execute(PARTITIONS, [f"evaltool.{table}"])] == [
            f"{table}_1",
            f"{table}_101",
        ]
    where = conn.execute(
        """SELECT r.tableoid::regclass::text, s.tableoid::regclass::text
           FROM evaltool.response r JOIN evaltool.score s
             ON s.run_id = r.run_id AND s.response_id = r.id
           WHERE r.run_id = %s""",
        [late],
    ).fetchall()
    assert where == [("evaltool.response_101", "evaltool.score_101")]
    # a statement that inserts no run makes no partition
    conn.execute("INSERT INTO evaltool.run (model_id, dataset_id) SELECT 1, 1 WHERE false")
    assert conn.execute("SELECT count(*) FROM evaltool.run_partition").fetchone() == (2,)
    assert first == 1


ROWS = """
SELECT (SELECT array_agg((id, run_id, prompt_id, sample, output_text, cached_from) ORDER BY id)
        FROM evaltool.response)::text,
       (SELECT array_agg((id, response_id, metric, value, passed, scoring_id) ORDER BY id)
        FROM evaltool.score)::text,
       (SELECT array_agg((id, score_id, response_id, value) ORDER BY id)
        FROM evaltool.score_history)::text,
       (SELECT array_agg((id, response_a_id, response_b_id, winner) ORDER BY id)
        FROM evaltool.preference)::text
"""


def test_the_migration_keeps_every_row_and_id_both_ways(empty_db_url: str) -> None:
    migrate.migrate(empty_db_url)
    # 0013 and every migration after it, newest first
    below = sorted(
        (p.name.removesuffix(".sql") for p in MIGRATIONS.glob("*.sql")
         if not p.name.endswith(".rollback.sql") and p.name >= "0013"),
        reverse=True,
    )  # fmt: skip
    assert below[-1] == "0013_partition_by_run"
    assert migrate.rollback(empty_db_url, count=len(below)) == below
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        a, b = make_runs(conn, [{}] * 3)
        # scores as they were before 0013: without run_id
        conn.execute(
            """INSERT INTO evaltool.score (response_id, metric, value, passed, scorer)
               SELECT id, 'ok', id % 2, id % 2 = 1, 'test' FROM evaltool.response ORDER BY id"""
        )
        conn.execute("UPDATE evaltool.score SET value = 0.5 WHERE value = 0")
        conn.execute(
            """INSERT INTO evaltool.score_history (score_id, response_id, metric, value, passed,
                                                   details, scorer, scorer_version, created_at)
               SELECT id, response_id, metric, 0, passed, details, scorer, scorer_version,
                      created_at
               FROM evaltool.score WHERE value = 0.5"""
        )
        conn.execute(
            """UPDATE evaltool.response c SET cached_from = s.id
               FROM evaltool.response s
               WHERE c.run_id = %s AND s.run_id = %s AND s.prompt_id = c.prompt_id""",
            [b, a],
        )
        conn.execute(
            """INSERT INTO evaltool.preference (prompt_id, response_a_id, response_b_id, winner,
                                                judge_kind, judge)
               SELECT x.prompt_id, x.id, y.id, 'a', 'human', 'ann'
               FROM evaltool.response x JOIN evaltool.response y
                 ON y.prompt_id = x.prompt_id AND y.run_id = %s
               WHERE x.run_id = %s""",
            [b, a],
        )
        before = conn.execute(ROWS).fetchone()
    assert migrate.migrate(empty_db_url) == below[::-1]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute(ROWS).fetchone() == before
        # scores and preferences name their runs; new rows continue the ids
        assert conn.execute(
            "SELECT count(*) FROM evaltool.score s JOIN evaltool.response r"
            " ON r.id = s.response_id AND r.run_id = s.run_id"
        ).fetchone() == (6,)
        assert conn.execute(
            "SELECT array_agg(DISTINCT (run_a_id, run_b_id))::text FROM evaltool.preference"
        ).fetchone() == (f'{{"({a},{b})"}}',)
        (c,) = make_runs(conn, [{}] * 3, runs=1)
        new_ids = "SELECT min(id) FROM evaltool.response WHERE run_id = %s"
        assert conn.execute(new_ids, [c]).fetchone()[0] > 6
    assert migrate.rollback(empty_db_url, count=len(below)) == below
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM evaltool.run WHERE id = %s", [c])
        assert conn.execute(ROWS).fetchone() == before


def _estimated_rows(conn: psycopg.Connection, table: str, run_id: int) -> float:
    (plan,) = conn.execute(
        f"EXPLAIN (FORMAT JSON) SELECT * FROM evaltool.{table} WHERE run_id = %s", [run_id]
    ).fetchone()
    return float(plan[0]["Plan"]["Plan Rows"])


def test_a_run_written_after_analyze_is_estimated_at_a_runs_size(
    conn: psycopg.Connection,
) -> None:
    """A run is read (its statistics, compare, reports) before ANALYZE sees it. The planner
    must not take it for one row, as full statistics on run_id did (every earlier run in
    the most-common-values list): then it looped over one run's scores per response of the
    other, and compare_runs of two new runs of 10,000 took 87 s instead of 0.07."""
    cases = [{"id": f"c{i}", "input": f"q{i}", "expected": "a", "outputs": ["a"] * 7}
             for i in range(50)]  # fmt: skip
    runs = make_runs(conn, cases, runs=7)
    for run in runs[:6]:
        put_scores(conn, run, "ok", [1.0] * 50, [True] * 50)
    conn.execute("ANALYZE evaltool.response")
    conn.execute("ANALYZE evaltool.score")
    put_scores(conn, runs[6], "ok", [1.0] * 50, [True] * 50)
    (fresh,) = make_runs(conn, cases, runs=1)
    assert _estimated_rows(conn, "response", fresh) >= 25
    assert _estimated_rows(conn, "score", runs[6]) >= 25
    # a partition made later keeps the setting
    conn.execute("SELECT setval(pg_get_serial_sequence('evaltool.run', 'id'), 500)")
    conn.commit()
    (late,) = make_runs(conn, cases, runs=1)
    assert conn.execute(
        """SELECT c.relname, a.attstattarget FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           WHERE a.attname = 'run_id' AND c.relname IN ('response_101', 'score_101')
           ORDER BY 1"""
    ).fetchall() == [("response_101", 1), ("score_101", 1)]
    assert late > 500


def test_scores_reference_the_responses_of_their_own_range(conn: psycopg.Connection) -> None:
    """The foreign keys of score and score_history to response join the partitions of one
    range of runs (0018): a check costs the same however many ranges there are, and it
    allows the same rows as one foreign key between the partitioned tables would."""
    conn.execute("SELECT setval(pg_get_serial_sequence('evaltool.run', 'id'), 249)")
    (run,) = make_runs(conn, [{}, {}], runs=1)
    put_scores(conn, run, "ok", [1.0, 0.0], [True, False])
    keys = conn.execute(
        """SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
           WHERE contype = 'f' AND conrelid::regclass::text ~ '_101$'
             AND confrelid::regclass::text ~ '^evaltool.response' ORDER BY 1"""
    ).fetchall()
    assert keys == [
        ("evaltool.score_101", "evaltool.response_101"),
        ("evaltool.score_history_101", "evaltool.response_101"),
    ]
    response = conn.execute(
        "SELECT min(id) FROM evaltool.response WHERE run_id = %s", [run]
    ).fetchone()[0]
    # a score of a response that is not there, or of another run's, is refused
    for run_id, response_id in ((run, response + 100), (1, response)):
        try:
            conn.execute(
                """INSERT INTO evaltool.score (run_id, response_id, metric, value, scorer)
                   VALUES (%s, %s, 'x', 1, 'test')""",
                [run_id, response_id],
            )
        except psycopg.errors.ForeignKeyViolation:
            pass
        else:
            raise AssertionError(f"a score of response {response_id} in run {run_id} was kept")
    # a deleted response takes its scores along
    conn.execute("DELETE FROM evaltool.response WHERE id = %s", [response])
    assert conn.execute(
        "SELECT count(*) FROM evaltool.score WHERE run_id = %s", [run]
    ).fetchone() == (1,)
