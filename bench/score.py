"""Benchmark: scoring and comparing two runs of 1,000,000 responses each, in SQL.

Measured in one process on a fresh database (evaltool_bench, on evaltool's server):
  limit         one INSERT ... SELECT of constant score rows for run A
  evaltool      evaltool.score_run(A, 'exact_match'): the scorer applied in SQL
  python loop   fetch run B's outputs, compare in Python, executemany the scores back
  compare_runs  evaltool.compare_runs(A, B) over both runs' scores, once right after B's
                rescore (a million dead row versions) and once after VACUUM, as autovacuum does
  refresh       evaltool.refresh_aggregates(): the per-run statistics left stale (none:
                scoring recomputes its run's at commit)
  report run    `evaltool report run B -o FILE.html`, a whole process (start included)
  report compare  `evaltool report compare A B -o FILE.html`, a whole process
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchdb
from evaltool import db

SETUP = [
    """INSERT INTO evaltool.provider (name) VALUES ('bench')""",
    """INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
       SELECT id, 'bench', 'bench:model', 'python' FROM evaltool.provider""",
    """INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'bench')""",
    # test cases with short expected answers, as golden sets have
    """INSERT INTO evaltool.prompt (dataset_id, input, expected)
       SELECT 1, to_jsonb('question ' || g || ': what is ' || g %% 997 || ' squared?'),
              to_jsonb(((g %% 997) ^ 2)::bigint::text)
       FROM generate_series(1, %(n)s) g""",
    """INSERT INTO evaltool.run (model_id, dataset_id, status) VALUES (1, 1, 'completed'),
                                                                     (1, 1, 'completed')""",
    # run A answers 80% right, run B 79%: a small real regression for compare_runs
    """INSERT INTO evaltool.response (run_id, prompt_id, status, output, output_text,
                                      latency_ms, input_tokens, output_tokens)
       SELECT r, p.id, 'ok', to_jsonb(t), t, 100 + p.id %% 50, 12, 3
       FROM evaltool.prompt p CROSS JOIN (VALUES (1), (2)) AS v(r)
       CROSS JOIN LATERAL (SELECT CASE WHEN (p.id * 7 + r) %% 100 < 81 - r
                                       THEN p.expected #>> '{}' ELSE 'I am not sure' END
                          ) AS o(t)""",
]


def timed(label: str, action: Callable[[], object]) -> float:
    print(f"  {label} ...", end="", flush=True)
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f" {seconds:.1f} s", flush=True)
    return seconds


def report(url: str, *args: str) -> Callable[[], object]:
    """`evaltool report ARGS -o FILE.html` as a user runs it; the file's size is printed."""

    def action() -> object:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.html"
            env = {**os.environ, "EVALTOOL_DATABASE_URL": url}
            command = [sys.executable, "-m", "evaltool", "report", *args, "-o", str(out)]
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
            print(f" [{out.stat().st_size / 1024:,.0f} KiB]", end="")
        return None

    return action


def python_loop(url: str, run_id: int) -> None:
    """The approach evaltool replaces: rows to Python and scores back, row by row."""
    with psycopg.connect(url) as read, psycopg.connect(url) as write:
        with read.cursor(name="outputs") as cur, write.cursor() as out:
            cur.itersize = 10_000
            cur.execute("""SELECT r.id, r.output_text, p.expected #>> '{}'
                           FROM evaltool.response r JOIN evaltool.prompt p ON p.id = r.prompt_id
                           WHERE r.run_id = %s""", (run_id,))  # fmt: skip
            batch = []
            for response_id, output, expected in cur:
                ok = output == expected
                batch.append((run_id, response_id, float(ok), ok))
                if len(batch) == 10_000:
                    _write(out, batch)
                    batch = []
            _write(out, batch)
        write.commit()


def _write(cur: psycopg.Cursor, batch: list[tuple[int, int, float, bool]]) -> None:
    cur.executemany(
        """INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
           VALUES (%s, %s, 'exact_match', %s, %s, 'python')
           ON CONFLICT (run_id, response_id, metric) DO UPDATE
           SET value = excluded.value, passed = excluded.passed, scorer = excluded.scorer""",
        batch,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000, help="per run")
    args = parser.parse_args()
    admin = db.database_url()
    url = benchdb.fresh_database(admin)
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        print(f"2 runs x {args.responses:,} responses; PostgreSQL {version}; "
              f"{os.cpu_count()} CPUs\n", flush=True)  # fmt: skip

        def setup() -> None:
            for statement in SETUP:
                conn.execute(statement, {"n": args.responses})
            conn.execute("VACUUM ANALYZE")

        def run(query: str) -> Callable[[], object]:
            def action() -> object:
                conn.execute("CHECKPOINT")
                return conn.execute(query).fetchall()

            return action

        timed("setup (not measured)", setup)
        limit = timed("limit", run("""
            INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, scorer)
            SELECT run_id, id, 'exact_match', 1, true, 'const' FROM evaltool.response
            WHERE run_id = 1
            RETURNING 1"""))  # fmt: skip
        conn.execute("TRUNCATE evaltool.score")
        sql_s = timed("evaltool", run("SELECT evaltool.score_run(1, 'exact_match')"))
        conn.execute("CHECKPOINT")
        loop_s = timed("python loop", lambda: python_loop(url, 2))
        timed("rescore B in SQL (for compare)", run("SELECT evaltool.score_run(2, 'exact_match')"))
        conn.execute("ANALYZE evaltool.score")
        dirty_s = timed(
            "compare_runs, right after", run("SELECT * FROM evaltool.compare_runs(1, 2)")
        )
        # the rescore left a million dead row versions, which autovacuum clears next
        conn.execute("VACUUM ANALYZE evaltool.score")
        compare_s = timed("compare_runs", run("SELECT * FROM evaltool.compare_runs(1, 2)"))
        verdict = conn.execute("SELECT verdict, delta, p_value FROM evaltool.compare_runs(1, 2)")
        verdict_row = verdict.fetchone()
        refresh_s = timed("refresh", run("SELECT * FROM evaltool.refresh_aggregates()"))
        run_report_s = timed("report run", report(url, "run", "2"))
        compare_report_s = timed("report compare", report(url, "compare", "1", "2"))
    benchdb.drop_database(admin)

    n = args.responses
    print(f"\n{'method':<14}{'seconds':>9}{'scores/s':>11}  ratio")
    print(f"{'limit':<14}{limit:>9.2f}{n / limit:>11,.0f}")
    print(f"{'evaltool':<14}{sql_s:>9.2f}{n / sql_s:>11,.0f}  {sql_s / limit:.2f} x limit "
          "(target <= 1.4)")  # fmt: skip
    print(f"{'python loop':<14}{loop_s:>9.2f}{n / loop_s:>11,.0f}  {loop_s / sql_s:.1f} x "
          "slower than evaltool (target >= 3)")  # fmt: skip
    print(f"{'compare_runs':<14}{compare_s:>9.2f}{'':>11}  (target < 5 s): {verdict_row}")
    print(f"{'':<14}{dirty_s:>9.2f}{'':>11}  the same, right after the rescore (before VACUUM)")
    print(f"{'refresh':<14}{refresh_s:>9.2f}")
    print(f"{'report run':<14}{run_report_s:>9.2f}{'':>11}  HTML, process start to exit")
    print(f"{'report compare':<14}{compare_report_s:>9.2f}{'':>11}  HTML, process start to exit")


if __name__ == "__main__":
    main()
