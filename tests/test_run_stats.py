"""evaltool.run_metric_stats: each run's statistics, recomputed at the commit that changed
its scores (migration 0012, sql/81_fn_run_stats.sql), whoever wrote them."""

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest
from click.testing import Result

from evaltool import migrate
from tests import test_roles
from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]
Login = test_roles.Login
login = test_roles.login

STORED = "SELECT * FROM evaltool.run_metric_stats WHERE run_id = ANY(%s) ORDER BY run_id, metric"
LIVE = "SELECT * FROM evaltool.run_metric_summary WHERE run_id = ANY(%s) ORDER BY run_id, metric"
STALE = "SELECT run_id FROM evaltool.run_stats_stale ORDER BY run_id"


def assert_current(conn: psycopg.Connection, runs: Sequence[int]) -> list[tuple[Any, ...]]:
    """The runs' stored statistics are run_metric_summary's rows (floats to rounding:
    another plan may sum in another order), followed by computed_at. Returns them."""
    stored = conn.execute(STORED, (list(runs),)).fetchall()
    live = conn.execute(LIVE, (list(runs),)).fetchall()
    assert [row[:-1] for row in stored] == [
        tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in live
    ]
    return stored


def passed(conn: psycopg.Connection, run_id: int) -> list[tuple[str, int]]:
    query = "SELECT metric, n_passed FROM evaltool.run_metric_stats WHERE run_id = %s ORDER BY 1"
    return conn.execute(query, (run_id,)).fetchall()


def test_scoring_computes_the_statistics_without_a_refresh(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    cases = [{"expected": f"a{i}", "outputs": [f"a{i}", "b", "c"]} for i in range(5)]
    scored, loaded, repeated = make_runs(conn, cases, runs=3)
    result = run_cli("score", str(scored), "--metric", "exact_match", "--metric", "edit_similarity")
    assert result.exit_code == 0, result.output
    put_scores(conn, loaded, "ok", [1.0, 0.0, 0.5, None, 0.25], [True, False, None, True, None])
    # Repeats (K = 2): the test case is the unit of the statistics.
    for statement in [
        "UPDATE evaltool.run SET repeats = 2 WHERE id = %(run)s",
        """INSERT INTO evaltool.response (run_id, prompt_id, sample, status, output_text)
           SELECT run_id, prompt_id, 2, status, output_text
           FROM evaltool.response WHERE run_id = %(run)s""",
        """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
           SELECT run_id, id, 'ok', (id %% 3) / 2.0, id %% 2 = 0, 'test'
           FROM evaltool.response WHERE run_id = %(run)s""",
    ]:
        conn.execute(statement, {"run": repeated})
    stored = assert_current(conn, [scored, loaded, repeated])
    assert [(row[0], row[1]) for row in stored] == [
        (scored, "edit_similarity"),
        (scored, "exact_match"),
        (loaded, "ok"),
        (repeated, "ok"),
    ]
    assert stored[-1][-3:-1] == (5, 10)  # n_cases, n_judged: 10 samples of 5 test cases
    assert conn.execute(STALE).fetchall() == []
    assert conn.execute("SELECT count(*) FROM evaltool.refresh_log").fetchone() == (0,)


def test_a_dba_update_is_recomputed_at_commit_once_per_run(
    db_url: str, conn: psycopg.Connection
) -> None:
    a, b = make_runs(conn, [{}] * 4)
    for run_id in (a, b):
        put_scores(conn, run_id, "ok", [1.0] * 4, [True] * 4)
    change = """UPDATE evaltool.score s SET passed = false FROM evaltool.response r
                WHERE r.id = s.response_id AND r.run_id = %s AND r.prompt_id = %s"""
    prompts = [row[0] for row in conn.execute("SELECT id FROM evaltool.prompt ORDER BY id")]
    with psycopg.connect(db_url) as dba:
        dba.execute("SET track_functions = 'pl'")
        dba.execute(change, (a, prompts[0]))
        dba.execute(change, (a, prompts[1]))
        dba.execute(change, (b, prompts[0]))
        # Marked, and recomputed only when the transaction ends: every statement of it
        # counts, each run once.
        assert dba.execute(STALE).fetchall() == [(a,), (b,)]
        assert passed(dba, a) == passed(dba, b) == [("ok", 4)]
        dba.execute("SET CONSTRAINTS evaltool.update_run_stats_at_commit IMMEDIATE")  # as COMMIT
        calls = dba.execute("""SELECT calls FROM pg_stat_xact_user_functions
                               WHERE schemaname = 'evaltool' AND funcname = 'update_run_stats'""")
        assert calls.fetchall() == [(2,)]
        assert (passed(dba, a), passed(dba, b)) == ([("ok", 2)], [("ok", 3)])
        assert passed(conn, a) == [("ok", 4)]  # others read the committed statistics
        dba.execute(change, (b, prompts[1]))
        dba.commit()
    assert (passed(conn, a), passed(conn, b)) == ([("ok", 2)], [("ok", 2)])
    assert_current(conn, [a, b])
    assert conn.execute(STALE).fetchall() == []


def test_deleting_responses_or_runs(run_cli: RunCli, conn: psycopg.Connection) -> None:
    a, b = make_runs(conn, [{}] * 3)
    for run_id in (a, b):
        put_scores(conn, run_id, "ok", [1.0, 0.0, 1.0], [True, False, True])
    kept = conn.execute(STORED, ([b],)).fetchall()
    conn.execute(
        "DELETE FROM evaltool.response WHERE id = (SELECT min(id) FROM evaltool.response "
        "WHERE run_id = %s)",
        (a,),
    )
    assert passed(conn, a) == [("ok", 1)]
    assert_current(conn, [a])
    assert run_cli("runs", "delete", str(a), "--yes").exit_code == 0
    assert conn.execute(STORED, ([a],)).fetchall() == []
    assert conn.execute(STORED, ([b],)).fetchall() == kept  # not recomputed
    assert conn.execute(STALE).fetchall() == []


def test_refresh_recomputes_only_the_runs_left_stale(
    run_cli: RunCli, conn: psycopg.Connection
) -> None:
    (run_id,) = make_runs(conn, [{}] * 2, runs=1)
    put_scores(conn, run_id, "ok", [1.0, 1.0], [True, True])
    assert conn.execute("SELECT * FROM evaltool.refresh_aggregates()").fetchall()[0][:2] == (
        "evaltool.run_metric_stats",
        0,
    )
    # A write with the triggers off (replication) leaves the run stale until a refresh.
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("UPDATE evaltool.score SET passed = false")
        conn.execute("INSERT INTO evaltool.run_stats_stale (run_id) VALUES (%s)", (run_id,))
    assert passed(conn, run_id) == [("ok", 2)]
    result = run_cli("refresh", "--json")
    assert result.exit_code == 0, result.output
    assert '"rows": 1' in result.stdout
    assert passed(conn, run_id) == [("ok", 0)]
    assert_current(conn, [run_id])
    assert conn.execute(STALE).fetchall() == []


def test_runs_left_stale_are_computed_by_the_next_migrate(
    conn: psycopg.Connection, db_url: str
) -> None:
    """As after the upgrade that made run_metric_stats a table (0012 marks every run):
    evaltool db migrate computes the stale runs as it applies sql/."""
    a, b = make_runs(conn, [{}] * 3)
    conn.execute("SET session_replication_role = replica")  # no trigger: no statistics
    for run_id in (a, b):
        put_scores(conn, run_id, "ok", [1.0, 0.0, 1.0], [True, False, True])
    conn.execute("INSERT INTO evaltool.run_stats_stale (run_id) VALUES (%s), (%s)", (a, b))
    conn.execute("RESET session_replication_role")
    assert conn.execute("SELECT count(*) FROM evaltool.run_metric_stats").fetchone() == (0,)
    assert migrate.migrate(db_url) == []
    assert conn.execute(STALE).fetchall() == []
    assert len(assert_current(conn, [a, b])) == 2
    refreshed = conn.execute("SELECT view_name, rows FROM evaltool.refresh_aggregates()")
    assert refreshed.fetchall()[0] == ("evaltool.run_metric_stats", 0)
    performance = "SELECT runs, mean_pass_rate FROM evaltool.model_performance"
    assert conn.execute(performance).fetchall() == [(2, pytest.approx(2 / 3))]


def test_writers_get_statistics_but_cannot_write_them(
    conn: psycopg.Connection, login: Login
) -> None:
    (run_id,) = make_runs(conn, [{}] * 2, runs=1)
    writer = login("evaltool_writer")
    put_scores(writer, run_id, "ok", [1.0, 0.0], [True, False])
    assert passed(writer, run_id) == [("ok", 1)]
    for statement in [
        "DELETE FROM evaltool.run_metric_stats",
        "INSERT INTO evaltool.run_stats_stale (run_id) SELECT id FROM evaltool.run",
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute(statement)
    assert writer.execute("SELECT evaltool.update_run_stats()").fetchone() == (0,)
    reader = login("evaltool_reader")
    assert passed(reader, run_id) == [("ok", 1)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("SELECT evaltool.update_run_stats()")
