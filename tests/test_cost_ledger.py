"""cost_daily reads cost_ledger, which triggers on response keep: whatever statements write,
change or delete responses, and however often evaltool refresh folds the ledger, it shows
what the responses themselves add up to, in the reader's time zone."""

import psycopg

from tests.scores import make_runs

# What cost_daily showed when it aggregated the responses themselves.
TRUTH = """
SELECT date_trunc('day', coalesce(x.started_at, x.created_at)) AS day, p.name, r.created_by,
       m.name, count(*), count(*) FILTER (WHERE x.status = 'error'), sum(x.input_tokens),
       sum(x.output_tokens), sum(x.cost_usd), count(*) FILTER (WHERE x.cost_usd IS NULL)
FROM evaltool.response x
JOIN evaltool.run r ON r.id = x.run_id
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
JOIN evaltool.project p ON p.id = d.project_id
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
SHOWN = """
SELECT day, project, created_by, model, calls, errors, input_tokens, output_tokens, cost_usd,
       unpriced_calls
FROM evaltool.cost_daily ORDER BY 1, 2, 3, 4
"""


def _agree(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    truth = conn.execute(TRUTH).fetchall()
    assert conn.execute(SHOWN).fetchall() == truth
    return truth


def test_the_ledger_follows_every_change_of_the_responses(conn: psycopg.Connection) -> None:
    cases = [{"input": f"q{i}",
              "outputs": ["a", {"error": "HTTP 500"} if i % 3 == 0 else "b",
                          None if i % 4 == 0 else "c"]}
             for i in range(12)]  # fmt: skip
    a, b, c = make_runs(conn, cases, runs=3)
    conn.execute(
        """UPDATE evaltool.response
           SET started_at = timestamptz '2026-03-01 17:50+00' + id * interval '13 minutes',
               input_tokens = id, output_tokens = 2 * id,
               cost_usd = CASE WHEN id % 4 <> 0 THEN id * 0.001 END"""
    )
    conn.commit()
    truth = _agree(conn)
    assert len(truth) > 1 and sum(row[4] for row in truth) == 33
    # a retry: an error becomes an answer, later and priced
    conn.execute(
        """UPDATE evaltool.response SET status = 'ok', error = NULL, cost_usd = 0.5,
                  started_at = started_at + interval '1 day'
           WHERE run_id = %s AND status = 'error'""",
        [b],
    )
    # a change that is not about cost leaves the ledger alone
    ledger = conn.execute("SELECT count(*) FROM evaltool.cost_ledger").fetchone()
    conn.execute("UPDATE evaltool.response SET output_text = 'x' WHERE run_id = %s", [a])
    assert conn.execute("SELECT count(*) FROM evaltool.cost_ledger").fetchone() == ledger
    conn.execute(
        "DELETE FROM evaltool.response WHERE run_id = %s AND id %% 2 = 0", [c]
    )  # fmt: skip
    conn.commit()
    _agree(conn)
    # days are the reader's: a zone 5 h 45 min ahead moves calls to the next day
    conn.execute("SET TimeZone = 'Asia/Kathmandu'")
    assert _agree(conn) != truth
    # folding leaves one row per run and quarter of an hour, and the same sums
    folded = conn.execute(
        "SELECT rows FROM evaltool.refresh_aggregates() WHERE view_name = 'evaltool.cost_ledger'"
    ).fetchone()
    conn.commit()
    assert folded is not None and folded[0] > 0
    assert conn.execute(
        """SELECT count(*) = count(DISTINCT (run_id, period)) AND bool_and(folded)
           FROM evaltool.cost_ledger"""
    ).fetchone() == (True,)
    _agree(conn)
    # a deleted run takes its cost with it
    conn.execute("DELETE FROM evaltool.run WHERE id = %s", [a])
    conn.commit()
    _agree(conn)
    assert conn.execute(
        "SELECT count(*) FROM evaltool.cost_ledger WHERE run_id = %s", [a]
    ).fetchone() == (0,)


def test_writers_cannot_write_the_ledger(conn: psycopg.Connection) -> None:
    (run,) = make_runs(conn, [{"input": "q", "outputs": ["a"]}], runs=1)
    conn.execute("SET ROLE evaltool_writer")
    try:
        conn.execute("INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, "
                     "unpriced_calls) VALUES (%s, now(), 1000, 0, 0)", [run])  # fmt: skip
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()
    else:
        raise AssertionError("a writer wrote to cost_ledger")
