"""Benchmark at scale: evaltool's everyday operations over a long history of runs.

Builds, on a fresh database (evaltool_bench, on evaltool's server), a history of RUNS runs
of RESPONSES responses each (one dataset of RESPONSES test cases, a year of runs over five
models, three scores per response: exact_match, trigram_similarity and latency_under:2000)
plus one run of BIG responses over a dataset of its own, all with set-based SQL (INSERT ...
SELECT, one run at a time) through evaltool's own tables, indexes and triggers. Measures, in
this one process, each operation with 10 runs of history and again with the full history:
  score          SELECT evaltool.score_run(RUN, 'exact_match') of a new run
  refresh        SELECT * FROM evaltool.refresh_aggregates() after one new run
  compare_runs   SELECT * FROM evaltool.compare_runs(A, B) of two runs of the history
  runs list      runs.find, as `evaltool runs list --limit 10` (the same page in both
                 phases: the ratio is the history's weight, not a longer page)
  runs search    runs.find(runfilter.parse(QUERY)), as `evaltool runs search QUERY --limit 2`
                 (the 10 runs hold 2 of model-b: the same page in both phases)
  report run     data.run_report + render to HTML, as `evaltool report run B -o F.html`
  report compare compare.compare + render to HTML, as `evaltool report compare A B -o F.html`
  leaderboard    data.leaderboard_report + render, as `evaltool report leaderboard`
  cost (month)   data.cost_report of the last 30 days + render, as `evaltool report cost`
Each is run once to warm up, then 3 times; the median counts. Each run of an operation gets
a connection of its own, opened before the clock starts, as each CLI command does.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchdb
from evaltool import compare, db, runfilter, runs
from evaltool.reports import data, render

MODELS = ("model-a", "model-b", "model-c", "model-d", "model-e")
SEARCH = "model:model-b pass>50% nightly"
REPEATS = 3
# An operation that takes longer than this to warm up is not repeated: that one time counts
# (at full scale a plan that reads the whole history per run would otherwise take hours).
ONCE_S = 60
TIMEOUT_S = 900  # statement_timeout of the measured sessions: a miss reads "timeout"
PER_RUN_TARGET = 1.2  # x the time with 10 runs of history
ABSOLUTE_TARGET_S = 1.0  # refresh after one new run, leaderboard, cost of a month

SETUP = [
    """INSERT INTO evaltool.provider (name) VALUES ('bench')""",
    """INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
       SELECT p.id, m.name, 'bench:' || m.name, 'python'
       FROM evaltool.provider p, unnest(%(models)s::text[]) m(name)""",
    # prices from 0.15/0.60 to 2.55/10.20 USD per million tokens, in force all year
    """INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, output_usd_per_mtok,
                                           valid_from)
       SELECT id, 0.15 + 0.6 * (id - 1), 0.6 + 2.4 * (id - 1), now() - interval '2 years'
       FROM evaltool.model""",
]

DATASET = """INSERT INTO evaltool.dataset (project_id, name) VALUES (1, %(name)s) RETURNING id"""

# Test cases with short expected answers, as golden sets have; prompt_hash is the trigger's.
PROMPTS = """
INSERT INTO evaltool.prompt (dataset_id, external_id, input, expected, tags)
SELECT %(dataset)s, 'case-' || g,
       to_jsonb('question ' || g || ': what is ' || g %% 997 || ' squared?'),
       to_jsonb(((g %% 997) ^ 2)::bigint::text),
       ARRAY[(ARRAY['arithmetic', 'squares', 'easy', 'hard'])[1 + g %% 4]]
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g"""

RUN = """
INSERT INTO evaltool.run (model_id, dataset_id, name, status, model_snapshot, params, tags,
                          started_at, finished_at, created_at, updated_at)
SELECT m.id, %(dataset)s, %(name)s, %(status)s, evaltool.model_snapshot(m.id, %(at)s),
       '{"temperature": 0}', %(tags)s, %(at)s,
       %(at)s + %(responses)s * interval '40 ms', %(at)s, %(at)s
FROM evaltool.model m
WHERE m.name = %(model)s
RETURNING id"""

# One response per test case between ids first and last: right with probability accuracy,
# else "I am not sure." or a near miss; an error (after 3 attempts) with probability
# errors. The random draws are made in the inner query, once per row.
RESPONSES = """
INSERT INTO evaltool.response (run_id, prompt_id, status, output, output_text, error,
                               latency_ms, input_tokens, output_tokens, cost_usd, attempts,
                               started_at, created_at, updated_at)
SELECT %(run)s, d.id, CASE WHEN d.failed THEN 'error' ELSE 'ok' END, to_jsonb(o.text), o.text,
       CASE WHEN d.failed THEN 'HTTP 429: rate limit exceeded' END,
       o.latency, o.input_tokens, o.output_tokens,
       round((o.input_tokens * pr.input_usd_per_mtok
              + o.output_tokens * pr.output_usd_per_mtok) / 1000000, 8),
       CASE WHEN d.failed THEN 3 ELSE 1 END,
       o.started, o.started + o.latency * interval '1 ms', o.started + o.latency * interval '1 ms'
FROM (SELECT p.id, p.expected, random() < %(errors)s AS failed,
             random() < %(accuracy)s AS right, random() AS u_wrong, random() AS u_latency,
             random() AS u_tokens
      FROM evaltool.prompt p
      WHERE p.dataset_id = %(dataset)s AND p.id BETWEEN %(first)s::bigint AND %(last)s::bigint) d
CROSS JOIN (SELECT c.input_usd_per_mtok, c.output_usd_per_mtok
            FROM evaltool.run r JOIN evaltool.current_pricing c ON c.model_id = r.model_id
            WHERE r.id = %(run)s) pr
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.failed THEN NULL
                WHEN d.right THEN d.expected #>> '{}'
                WHEN d.u_wrong < 0.5 THEN 'I am not sure.'
                ELSE ((d.expected #>> '{}')::bigint + 1)::text END AS text,
           150 + 2500 * d.u_latency ^ 3 AS latency,
           CASE WHEN NOT d.failed THEN 14 + (d.u_tokens * 30)::integer END AS input_tokens,
           CASE WHEN NOT d.failed THEN 2 + (d.u_tokens * 8)::integer END AS output_tokens,
           %(at)s::timestamptz + (d.id - %(first)s::bigint) * interval '40 ms' AS started
) o
ORDER BY d.id"""

# The scorings of a run, as begin_scoring records them, with their counts (finish_scoring).
SCORINGS = """
INSERT INTO evaltool.scoring (run_id, metric, scorer, scorer_version, arg, scores, created_at)
SELECT %(run)s, s.metric, 'sql:' || c.name, c.version, s.arg,
       CASE WHEN s.metric = 'trigram_similarity' THEN n.ok ELSE n.every END, %(at)s
FROM (VALUES ('exact_match', 'exact_match', NULL),
             ('trigram_similarity', 'trigram_similarity', NULL),
             ('latency_under:2000', 'latency_under', '2000')) AS s(metric, scorer, arg)
JOIN evaltool.scorer c ON c.name = s.scorer
CROSS JOIN (SELECT count(*) AS every, count(*) FILTER (WHERE status = 'ok') AS ok
            FROM evaltool.response WHERE run_id = %(run)s) n"""

# The three scores of each response with ids first to last, as the scorers give them (a
# similarity for a wrong answer is drawn at random); an error has no similarity.
SCORES = """
INSERT INTO evaltool.score (response_id, metric, value, passed, details, scorer,
                            scorer_version, scoring_id, created_at, updated_at{run_column})
SELECT r.id, g.metric,
       CASE g.metric WHEN 'exact_match' THEN e.m::integer
                     WHEN 'trigram_similarity'
                     THEN CASE WHEN e.m THEN 1 ELSE round(random()::numeric * 0.7, 4) END
                     ELSE l.m::integer END,
       CASE g.metric WHEN 'exact_match' THEN e.m WHEN 'latency_under:2000' THEN l.m END,
       CASE WHEN g.metric = 'latency_under:2000'
            THEN jsonb_build_object('latency_ms', r.latency_ms) ELSE '{{}}' END,
       g.scorer, g.scorer_version, g.id, r.created_at, r.created_at{run_value}
FROM evaltool.response r
JOIN evaltool.prompt p ON p.id = r.prompt_id
JOIN evaltool.scoring g ON g.run_id = r.run_id
CROSS JOIN LATERAL (SELECT coalesce(r.status = 'ok' AND r.output_text = p.expected #>> '{{}}',
                                    false) AS m) e
CROSS JOIN LATERAL (SELECT coalesce(r.status = 'ok' AND r.latency_ms <= 2000, false) AS m) l
WHERE r.run_id = %(run)s AND r.id BETWEEN %(first)s::bigint AND %(last)s::bigint
  AND (g.metric <> 'trigram_similarity' OR r.status = 'ok')
ORDER BY r.id, g.metric"""

# A partitioned table's sizes are its partitions'; a plain table has no partition tree.
SIZES = """
WITH t(name) AS (VALUES ('evaltool.response'::regclass), ('evaltool.score'::regclass)),
part AS (SELECT t.name, t.name AS relid FROM t
         UNION SELECT t.name, p.relid FROM t, pg_partition_tree(t.name) p)
SELECT pg_database_size(current_database()),
       sum(pg_table_size(relid)) FILTER (WHERE name = 'evaltool.response'::regclass),
       sum(pg_indexes_size(relid)) FILTER (WHERE name = 'evaltool.response'::regclass),
       sum(pg_table_size(relid)) FILTER (WHERE name = 'evaltool.score'::regclass),
       sum(pg_indexes_size(relid)) FILTER (WHERE name = 'evaltool.score'::regclass)
FROM part"""


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class History:
    """Writes runs, with their responses and scores, in set-based statements."""

    def __init__(self, url: str, origin: datetime, runs: int):
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("SET synchronous_commit = off")
        self.conn.execute("SELECT setseed(0.42)")
        self.origin = origin
        self.runs = runs
        # score.run_id, where the schema has it (response and score partitioned by run)
        self.score_run_id = (
            self.conn.execute(
                """SELECT FROM information_schema.columns
                   WHERE table_schema = 'evaltool' AND table_name = 'score'
                     AND column_name = 'run_id'"""
            ).fetchone()
            is not None
        )
        self.scores_sql = sql.SQL(SCORES).format(
            run_column=sql.SQL(", run_id" if self.score_run_id else ""),
            run_value=sql.SQL(", r.run_id" if self.score_run_id else ""),
        )
        for statement in SETUP:
            self.conn.execute(statement, {"models": list(MODELS)})
        self.datasets: dict[str, tuple[int, int, int]] = {}

    def dataset(self, name: str, cases: int, batch: int = 100_000) -> None:
        row = self.conn.execute(DATASET, {"name": name}).fetchone()
        assert row is not None
        dataset_id = row[0]
        for first in range(1, cases + 1, batch):
            last = min(first + batch - 1, cases)
            self.conn.execute(PROMPTS, {"dataset": dataset_id, "first": first, "last": last})
            if cases > batch:
                progress(f"  dataset {name}: {last:,} of {cases:,} test cases")
        ids = self.conn.execute(
            "SELECT min(id), max(id) FROM evaltool.prompt WHERE dataset_id = %s", (dataset_id,)
        ).fetchone()
        assert ids is not None
        self.datasets[name] = (dataset_id, ids[0], ids[1])

    def at(self, slot: float) -> datetime:
        """When the run in this slot of the year (0 to runs) was made."""
        return self.origin + timedelta(days=365) * slot / self.runs

    def add(
        self,
        slot: int,
        *,
        name: str | None = None,
        dataset: str = "qa",
        at: datetime | None = None,
        scored: bool = True,
        batch: int = 100_000,
    ) -> int:
        """A run in this slot of the history (or, with a name and a time, after it), with its
        responses and (scored) its three scores per response; returns its id. Model and
        accuracy follow the slot: later runs of a model do better, and every 37th run of the
        history failed with a quarter of its calls."""
        dataset_id, first, last = self.datasets[dataset]
        model = slot % len(MODELS)
        failed = name is None and slot % 37 == 5
        params: dict[str, Any] = {
            "dataset": dataset_id,
            "model": MODELS[model],
            "name": name or f"nightly-{slot}",
            "status": "failed" if failed else "completed",
            "tags": ["release"] if slot % 10 == 0 else ["nightly"],
            "at": at or self.at(slot),
            "responses": last - first + 1,
            "accuracy": 0.55 + 0.07 * model + 0.05 * slot / self.runs,
            "errors": 0.25 if failed else 0.005,
        }
        # one transaction per run, as a run's statistics may be computed at each commit
        with self.conn.transaction():
            row = self.conn.execute(RUN, params).fetchone()
            assert row is not None
            params["run"] = row[0]
            for lo in range(first, last + 1, batch):
                chunk = {**params, "first": lo, "last": min(lo + batch - 1, last)}
                self.conn.execute(RESPONSES, chunk)
            if scored:
                self.score(params)
        return int(params["run"])

    def score(self, params: dict[str, Any], batch: int = 100_000) -> None:
        self.conn.execute(SCORINGS, params)
        ids = self.conn.execute(
            "SELECT min(id), max(id) FROM evaltool.response WHERE run_id = %s", (params["run"],)
        ).fetchone()
        assert ids is not None
        for lo in range(ids[0], ids[1] + 1, batch):
            chunk = {**params, "first": lo, "last": min(lo + batch - 1, ids[1])}
            self.conn.execute(self.scores_sql, chunk)

    def generate(self, label: str, slots: list[int]) -> list[int]:
        """The runs of these slots, with progress on stderr; returns their ids."""
        start = time.perf_counter()
        every = max(1, len(slots) // 20)
        ids = []
        for done, slot in enumerate(slots, 1):
            ids.append(self.add(slot))
            if done % every == 0 or done == len(slots):
                seconds = time.perf_counter() - start
                progress(f"  {label}: {done:,} of {len(slots):,} runs, {seconds:,.0f} s, "
                         f"{seconds / done * (len(slots) - done):,.0f} s to go")  # fmt: skip
        return ids

    def settle(self) -> float:
        """VACUUM ANALYZE and CHECKPOINT, as autovacuum and time would; returns seconds."""
        start = time.perf_counter()
        self.conn.execute("VACUUM ANALYZE")
        self.conn.execute("CHECKPOINT")
        return time.perf_counter() - start


def median_time(
    url: str,
    label: str,
    action: Callable[[psycopg.Connection, int], object],
    prepare: Callable[[int], object] | None = None,
) -> float:
    """Runs action(conn, 0) once to warm up, then action(conn, 1..REPEATS), each on a new
    connection and after prepare(i), neither timed; prints and returns the median (the
    warm-up's time where it took over ONCE_S, infinity where a statement timed out)."""
    times = []
    print(f"  {label:<22}", end="", flush=True)
    for i in range(REPEATS + 1):
        if prepare is not None:
            prepare(i)
        with db.connect(url, autocommit=True) as conn:
            # as in a CLI process: no statement is executed often enough to be prepared
            conn.prepare_threshold = None
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{TIMEOUT_S}s",))
            start = time.perf_counter()
            try:
                action(conn, i)
            except psycopg.errors.QueryCanceled:
                print(f"timeout (a statement ran over {TIMEOUT_S} s)", flush=True)
                return float("inf")
            seconds = time.perf_counter() - start
        if i == 0 and seconds > ONCE_S:
            print(f"{seconds:9.3f} s   (once: the warm-up took over {ONCE_S} s)", flush=True)
            return seconds
        if i > 0:
            times.append(seconds)
    median = statistics.median(times)
    print(f"{median:9.3f} s   ({', '.join(f'{t:.3f}' for t in times)})", flush=True)
    return median


def measure(url: str, history: History, phase: int, a: int, b: int) -> dict[str, float]:
    """Every operation, timed; new runs are dated now, after the history."""
    new_runs: list[int] = []

    def new_run(i: int) -> None:
        slot, name = history.runs + i, f"new-{phase}.{i}"
        new_runs.append(history.add(slot, name=name, at=datetime.now(UTC), scored=False))

    def new_scored_run(i: int) -> None:
        slot, name = history.runs + i, f"new-{phase}.refresh.{i}"
        history.add(slot, name=name, at=datetime.now(UTC))

    def query(statement: str, *args: object) -> Callable[[psycopg.Connection, int], object]:
        return lambda conn, i: conn.execute(statement, args).fetchall()

    def html(kind: str, document: Callable[[psycopg.Connection], dict[str, Any]]) -> Any:
        return lambda conn, i: render.render(kind, "html", document(conn))

    today = date.today()
    month = (today - timedelta(days=29), today)
    return {
        "score_run": median_time(
            url,
            "score_run",
            lambda conn, i: conn.execute(
                "SELECT evaltool.score_run(%s, 'exact_match')", (new_runs[i],)
            ).fetchall(),
            prepare=new_run,
        ),
        "refresh": median_time(
            url,
            "refresh after 1 run",
            query("SELECT * FROM evaltool.refresh_aggregates()"),
            prepare=new_scored_run,
        ),
        "compare_runs": median_time(
            url, "compare_runs", query("SELECT * FROM evaltool.compare_runs(%s, %s)", a, b)
        ),
        "runs list": median_time(
            url, "runs list", lambda conn, i: runs.find(conn, runfilter.RunFilter(), 10)
        ),
        "runs search": median_time(
            url, "runs search", lambda conn, i: runs.find(conn, runfilter.parse(SEARCH), 2)
        ),
        "report run": median_time(
            url, "report run", html("run", lambda conn: data.run_report(conn, b))
        ),
        "report compare": median_time(
            url, "report compare", html("compare", lambda conn: compare.compare(conn, a, b))
        ),
        "leaderboard": median_time(
            url, "leaderboard", html("leaderboard", lambda conn: data.leaderboard_report(conn))
        ),
        "cost (month)": median_time(
            url, "cost (month)", html("cost", lambda conn: data.cost_report(conn, *month))
        ),
    }


def print_sizes(url: str) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(SIZES).fetchone()
    assert row is not None
    database, response, response_idx, score, score_idx = (v / 2**20 for v in row)
    print(f"  database {database:,.0f} MB; response {response:,.0f} MB + indexes "
          f"{response_idx:,.0f} MB; score {score:,.0f} MB + indexes {score_idx:,.0f} MB",
          flush=True)  # fmt: skip


def counts(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM evaltool.run), (SELECT count(*) FROM evaltool.response),
                      (SELECT count(*) FROM evaltool.score)"""
        ).fetchone()
    assert row is not None
    return f"{row[0]:,} runs, {row[1]:,} responses, {row[2]:,} scores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of history (>= 10)")
    parser.add_argument("--responses", type=int, default=10_000, help="per run (test cases)")
    parser.add_argument("--big", type=int, default=1_000_000, help="responses of the large run")
    parser.add_argument("--keep", action="store_true", help="keep the database evaltool_bench")
    args = parser.parse_args()
    if args.runs < 10 or args.responses < 1 or args.big < 1:
        parser.error("--runs must be 10 or more, --responses and --big 1 or more")

    admin = db.database_url()
    url = benchdb.fresh_database(admin)
    try:
        run(url, args)
    finally:
        if args.keep:
            print(f"\nkept: {url}")
        else:
            benchdb.drop_database(admin)


def run(url: str, args: argparse.Namespace) -> None:
    history = History(url, datetime.now(UTC) - timedelta(days=365), args.runs)
    version = history.conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    print(f"{args.runs:,} runs x {args.responses:,} responses + 1 run of {args.big:,}; "
          f"PostgreSQL {version}; score.run_id {'set' if history.score_run_id else 'absent'}",
          flush=True)  # fmt: skip

    # 10 runs spread over the year (slots near the middle of each tenth), two of each model
    # (a slot's model is slot % 5), then the others
    first = sorted({int((k + 0.5) * args.runs / 10) // 5 * 5 + k % 5 for k in range(10)})
    rest = [s for s in range(args.runs) if s not in set(first)]
    start = time.perf_counter()
    history.dataset("qa", args.responses)
    a, b = history.generate("10 runs", first)[-2:]
    generated = time.perf_counter() - start
    settled = history.settle()
    print(f"\nwith 10 runs of history ({counts(url)}): generated in {generated:,.1f} s, "
          f"VACUUM ANALYZE + CHECKPOINT {settled:,.1f} s")  # fmt: skip
    print_sizes(url)
    ten = measure(url, history, 1, a, b)

    start = time.perf_counter()
    history.generate("history", rest)
    history.dataset("qa-large", args.big)
    progress(f"  the run of {args.big:,} responses ...")
    middle = args.runs // 2
    history.add(middle, name="large", dataset="qa-large", at=history.at(middle + 0.5))
    generated = time.perf_counter() - start
    settled = history.settle()
    print(f"\nwith {args.runs:,} runs of history ({counts(url)} in all): generated in "
          f"{generated:,.1f} s, VACUUM ANALYZE + CHECKPOINT {settled:,.1f} s")  # fmt: skip
    print_sizes(url)
    full = measure(url, history, 2, a, b)
    history.conn.close()

    absolute = {"refresh", "leaderboard", "cost (month)"}
    head = f"{args.runs:,} runs"
    print(f"\n{'operation':<16}{'10 runs':>10}{head:>12}{'ratio':>8}  {'target':<20}result")
    for name, seconds in full.items():
        ratio = seconds / ten[name]
        if name in absolute:
            target, passed = f"< {ABSOLUTE_TARGET_S:g} s", seconds < ABSOLUTE_TARGET_S
        else:
            target, passed = f"<= {PER_RUN_TARGET:g} x 10 runs", ratio <= PER_RUN_TARGET
        print(f"{name:<16}{ten[name]:>10.3f}{seconds:>12.3f}{ratio:>8.2f}  {target:<20}"
              f"{'PASS' if passed else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
