"""Benchmark of one run answered by 1, 2, 4 and 8 worker processes.

    python bench/workers.py [--cases 4000] [--concurrency 16] [--delay-ms 200]
    (make bench-workers)

A slow local model server (bench/run.py's, answering every call after --delay-ms) and one
run per worker count, created with `evaltool run --prepare` and answered by that many
`evaltool run --worker RUN` processes started at once, as on many machines. For each it
prints the throughput, the bound (workers x concurrency / delay), and what the database
did meanwhile: transactions and rows written per second (pg_stat_database), the mean and
peak number of active sessions (pg_stat_activity, sampled every 100 ms), and the claim
query's share of them. Nothing is asserted here.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import benchdb  # noqa: E402
from bench.run import cli, prepare  # noqa: E402
from evaltool import db  # noqa: E402

ACTIVITY = """
SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state = 'active' AND query ILIKE '%%SKIP LOCKED%%')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
COUNTERS = """
SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted
FROM pg_stat_database WHERE datname = current_database()
"""


def sample(url: str, stop: threading.Event, into: list[tuple[int, int]]) -> None:
    """Active sessions, and those claiming, every 100 ms until `stop`."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(0.1):
            row = conn.execute(ACTIVITY).fetchone()
            assert row is not None
            into.append((row[0], row[1]))


def counters(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(COUNTERS).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def measure(url: str, workers: int, concurrency: int) -> dict[str, float]:
    """One run answered by `workers` processes at once."""
    run_id = cli("run", "bench", "bench", "--prepare", url=url).split()[-1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    env["EVALTOOL_DATABASE_URL"] = url
    xacts0, rows0 = counters(url)
    seen: list[tuple[int, int]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(url, stop, seen))
    sampler.start()
    start = time.perf_counter()
    command = [sys.executable, "-m", "evaltool", "run", "--worker", run_id, "--concurrency",
               str(concurrency), "--no-cache", "--quiet", "--json"]  # fmt: skip
    pipe = subprocess.PIPE
    procs = [subprocess.Popen(command, env=env, stdout=pipe, stderr=pipe) for _ in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"a worker failed: {err.decode(errors='replace')}")
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    xacts1, rows1 = counters(url)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (prompt_id, sample)) FROM evaltool.response"
            " WHERE run_id = %s AND status = 'ok'",
            [int(run_id)],
        ).fetchone()
    assert row is not None
    return {
        "seconds": seconds,
        "ok": row[0],
        "distinct": row[1],
        "xacts_per_s": (xacts1 - xacts0) / seconds,
        "rows_per_s": (rows1 - rows0) / seconds,
        "active_mean": statistics.fmean(a for a, _ in seen) if seen else 0.0,
        "active_peak": max((a for a, _ in seen), default=0),
        "claiming_mean": statistics.fmean(c for _, c in seen) if seen else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight per worker")
    parser.add_argument("--delay-ms", type=float, default=200.0)
    parser.add_argument("--workers", default="1,2,4,8")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "run.py"), "--serve", "--delay-ms",
         str(args.delay_ms)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        admin = db.database_url()
        url = benchdb.fresh_database(admin)
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        prepare(url, port, args.cases)
        print(
            f"{args.cases:,} test cases per run, {args.concurrency} calls in flight per worker, "
            f"server delay {args.delay_ms:g} ms; PostgreSQL {version}; {os.cpu_count()} CPUs\n"
        )
        print(f"{'workers':>7}{'seconds':>9}{'calls/s':>9}{'bound/s':>9}{'of bound':>9}"
              f"{'xact/s':>8}{'rows/s':>8}{'active':>8}{'peak':>6}{'claiming':>10}")  # fmt: skip
        for workers in counts:
            m = measure(url, workers, args.concurrency)
            if not m["ok"] == m["distinct"] == args.cases:
                sys.exit(f"{workers} workers stored {m['ok']} answers, not {args.cases} once each")
            rate = args.cases / m["seconds"]
            bound = workers * args.concurrency / (args.delay_ms / 1000)
            print(
                f"{workers:>7}{m['seconds']:>9.1f}{rate:>9,.0f}{bound:>9,.0f}{rate / bound:>9.0%}"
                f"{m['xacts_per_s']:>8,.0f}{m['rows_per_s']:>8,.0f}{m['active_mean']:>8.1f}"
                f"{m['active_peak']:>6}{m['claiming_mean']:>10.2f}",
                flush=True,
            )
        benchdb.drop_database(admin)
    finally:
        server.kill()
        server.wait()
    print("\n(active: sessions of the database executing a statement, mean and peak of 100 ms "
          "samples; claiming: of those, running the claim query)")  # fmt: skip


if __name__ == "__main__":
    main()
