"""`evaltool runs` (list, search, show, delete) and `evaltool refresh`."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import Result

from evaltool import refresh, runfilter
from evaltool.errors import EvaltoolError
from tests.scores import make_runs, put_scores

RunCli = Callable[..., Result]
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def three_runs(conn: psycopg.Connection) -> list[int]:
    """Run a: completed, 9 of 10 passed; b: failed a week ago, 2 of 10; c: 10 days old."""
    ids = make_runs(conn, [{}] * 10, runs=3)
    put_scores(conn, ids[0], "ok", [1.0] * 9 + [0.0], [True] * 9 + [False])
    put_scores(conn, ids[1], "ok", [1.0] * 2 + [0.0] * 8, [True] * 2 + [False] * 8)
    conn.execute(
        """UPDATE evaltool.run SET status = 'failed', tags = '{nightly}',
                    notes = 'provider outage', created_at = now() - interval '5 days'
                    WHERE id = %s""",
        (ids[1],),
    )
    conn.execute(
        "UPDATE evaltool.run SET created_at = now() - interval '10 days', "
        "name = 'old baseline' WHERE id = %s",
        (ids[2],),
    )
    conn.commit()
    return ids


def found(run_cli: RunCli, *args: str) -> list[int]:
    result = run_cli("runs", *args, "--json")
    assert result.exit_code == 0, result.output
    return [r["run_id"] for r in json.loads(result.stdout)]


def test_runs_list_and_search_filters(run_cli: RunCli, three_runs: list[int]) -> None:
    a, b, c = three_runs
    assert found(run_cli, "list") == [a, b, c]
    assert found(run_cli, "list", "--status", "failed") == [b]
    assert found(run_cli, "list", "--min-pass-rate", "0.8") == [a]
    assert found(run_cli, "list", "--since", "7d") == [a, b]
    assert found(run_cli, "search", "failed", "last", "week") == [b]
    assert found(run_cli, "search", "pass>80%") == [a]
    assert found(run_cli, "search", "pass<0.5 tag:nightly") == [b]
    assert found(run_cli, "search", "outage") == [b]
    assert found(run_cli, "search", "old baseline") == [c]
    assert found(run_cli, "search", "until:7d") == [c]
    assert found(run_cli, "search", "today") == [a]
    table = run_cli("runs", "list").output
    assert "90%" in table and "20%" in table


def test_search_query_language() -> None:
    q = runfilter.parse("failed runs yesterday model:gpt-4o success>=95% duration<2m nightly", NOW)
    assert (q.status, q.model, q.min_success, q.max_seconds, q.words) == (
        "failed",
        "gpt-4o",
        0.95,
        120.0,
        ["nightly"],
    )
    assert (q.since, q.until) == (
        datetime(2026, 11, 22, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    assert runfilter.parse("since:2w", NOW).since == NOW - timedelta(weeks=2)
    with pytest.raises(EvaltoolError, match="status is one of"):
        runfilter.parse("status:broken", NOW)
    with pytest.raises(EvaltoolError, match="expected a date"):
        runfilter.parse("since:tuesday", NOW)


def test_runs_show_and_delete(
    run_cli: RunCli, conn: psycopg.Connection, three_runs: list[int]
) -> None:
    a, b, _ = three_runs
    shown = json.loads(run_cli("runs", "show", str(a), "--json").stdout)
    assert shown["summary"]["test_cases"] == 10
    assert [(m["metric"], m["n_passed"]) for m in shown["metrics"]] == [("ok", 9)]
    assert "90% (" in run_cli("runs", "show", str(a)).output

    assert run_cli("runs", "delete", str(b), input="n\n").exit_code == 1
    assert run_cli("runs", "delete", str(b), "--yes").output.strip() == f"deleted run(s) {b}"
    left = conn.execute("""SELECT count(*) FROM evaltool.response WHERE run_id = %s""", (b,))
    assert left.fetchone() == (0,)
    missing = run_cli("runs", "delete", "999", "--yes")
    assert (missing.exit_code, missing.stderr.strip()) == (2, "Error: no run 999")


def test_scores_update_the_statistics_at_commit_and_refresh_logs_what_was_left(
    run_cli: RunCli, conn: psycopg.Connection, three_runs: list[int]
) -> None:
    a = three_runs[0]
    stats = """SELECT n, n_passed, pass_rate, pass_rate_low
               FROM evaltool.run_metric_stats WHERE run_id = %s"""
    # Computed when the scores were committed: nothing is left for refresh.
    assert conn.execute(stats, (a,)).fetchone() == (10, 9, 0.9, pytest.approx(0.5958, abs=1e-4))
    result = run_cli("refresh", "--json")
    assert result.exit_code == 0, result.output
    # and the cost ledger's rows that the runs' responses appended, folded
    refreshed = json.loads(result.stdout)
    assert (refreshed[0]["view_name"], refreshed[0]["rows"]) == ("evaltool.run_metric_stats", 0)
    assert refreshed[1]["view_name"] == "evaltool.cost_ledger" and refreshed[1]["rows"] >= 3
    conn.execute("DELETE FROM evaltool.score")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM evaltool.run_metric_stats").fetchone() == (0,)
    assert run_cli("refresh", "--blocking", "--quiet").output == ""
    log = conn.execute("SELECT view_name, concurrent, rows FROM evaltool.refresh_log ORDER BY id")
    assert [row for row in log.fetchall() if row[0] == "evaltool.run_metric_stats"] == [
        ("evaltool.run_metric_stats", True, 0),
        ("evaltool.run_metric_stats", False, 0),
    ]


def test_refresh_schedule_without_pg_cron(run_cli: RunCli) -> None:
    result = run_cli("refresh", "--schedule", "*/15 * * * *")
    assert result.exit_code == 0, result.output
    assert "has no pg_cron" in result.output
    assert "*/15 * * * * cd " in result.output and "refresh --quiet" in result.output
    assert "OnCalendar=*-*-* *:0/15:00" in result.output
    bad = run_cli("refresh", "--schedule", "hourly")
    assert bad.exit_code == 2 and "expected five cron fields" in bad.stderr


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("0 3 * * *", "*-*-* 3:0:00"),
        ("30 8 * * 1-5", "Mon..Fri *-*-* 8:30:00"),
        ("0 */6 1,15 * *", "*-*-1,15 0/6:0:00"),
    ],
)
def test_cron_to_systemd_calendar(cron: str, calendar: str) -> None:
    assert refresh.on_calendar(cron) == calendar


def test_metrics_of_one_value_or_none_never_break_summaries(
    run_cli: RunCli, conn: psycopg.Connection, tmp_path: object
) -> None:
    """D1: a metric with one value (a --limit 1 run) or only pass/fail verdicts (loaded
    scores) has no t interval; the summary, the report and refresh must still work."""
    (run_id,) = make_runs(conn, [{"expected": "a"}], runs=1)
    put_scores(conn, run_id, "one_value", [0.5])
    put_scores(conn, run_id, "pass_only", [None], [True])
    rows = conn.execute(
        """SELECT metric, n, mean, mean_low, pass_rate, pass_rate_low, pass_rate_high
           FROM evaltool.run_metric_summary WHERE run_id = %s ORDER BY metric""",
        (run_id,),
    ).fetchall()
    assert rows[0][:4] == ("one_value", 1, 0.5, None)
    assert rows[1][0] == "pass_only" and rows[1][4:] == (1.0, pytest.approx(0.2065, abs=1e-4), 1)
    assert run_cli("runs", "show", str(run_id)).exit_code == 0
    assert run_cli("report", "run", str(run_id)).exit_code == 0
    result = run_cli("refresh")
    assert result.exit_code == 0, result.output
