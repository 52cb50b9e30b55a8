"""Benchmark of `evaltool load prompts` against the limits and the usual alternatives.

    python bench/load.py [--rows 1000000]        (make bench-load)

Generates realistic test cases (200 to 600 characters with tabs, quotes, backslashes, CJK
and emoji; cached under .evaltool/bench), then measures in one run, each in a process of
its own against a fresh database (EVALTOOL_DATABASE_URL's server, else the embedded one):

  limit-plain    psql \\copy of the rows, pre-converted to COPY text, into a plain table
  limit-hashed   the same into a table with prompt's columns, hash trigger and unique index
  limit-mirror   the same into an exact copy of evaltool.prompt: all its indexes,
                 triggers (audit included) and its foreign key, i.e. the best any loader
                 can do here
  evaltool       evaltool load prompts FILE (at N/10 rows too, to compare peak memory)
  evaltool-hashed  the same into evaltool.prompt cut down to limit-hashed's shape (hash
                 trigger and unique index; no other index, key, foreign key or audit), to
                 compare the loader itself with that limit
  executemany    psycopg executemany INSERT in pipeline mode into the plain table
  orm            SQLAlchemy ORM session.add per row, commit every 1,000 rows (the approach
                 of the systems evaltool replaces), into the plain table

and prints seconds, rows/s, peak memory (RSS) and the ratios. Nothing is asserted here.
"""

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import psycopg
from psycopg.types.json import Jsonb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import benchdb  # noqa: E402
from evaltool import config, db, embedded  # noqa: E402

COLUMNS = "(external_id, input, expected, tags)"
WORDS = [
    "the",
    "model",
    "answer",
    "latency",
    "price",
    "tab\there",
    'say "hi"',
    "back\\slash",
    "C:\\path\\to",
    "漢字",
    "テスト",
    "데이터",
    "🎉",
    "emoji😀",
    "naïve",
    "—",
    "\\N",
    "\\.",
    "evaluation",
    "regression",
    "golden",
    "dataset",
    "{json: [1, 2]}",
    "line",
]


# -- data --------------------------------------------------------------------------------------


def generate(rows: int) -> tuple[Path, Path]:
    """The JSON Lines file and its COPY-text twin for `rows` test cases (cached)."""
    folder = config.home() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, copy = folder / f"prompts-{rows}.jsonl", folder / f"prompts-{rows}.copy"
    if jsonl.exists() and copy.exists():
        return jsonl, copy
    rng = random.Random(42)
    with jsonl.open("w", encoding="utf-8") as out, copy.open("w", encoding="utf-8") as out_copy:
        for i in range(rows):
            size = rng.randint(200, 600)
            words: list[str] = []
            length = 0
            while length < size:
                word = rng.choice(WORDS)
                words.append(word)
                length += len(word) + 1
            text = " ".join(words)[:size]
            doc = {
                "id": f"case-{i:07d}",
                "input": text,
                "expected": rng.choice(["yes", "no"]),
                "tags": ["bench", rng.choice(["easy", "hard"])],
            }
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
            fields = [
                doc["id"],
                json.dumps(doc["input"], ensure_ascii=False),
                json.dumps(doc["expected"]),
                "{" + ",".join(doc["tags"]) + "}",
            ]
            out_copy.write("\t".join(f.replace("\\", "\\\\") for f in fields) + "\n")
    return jsonl, copy


# -- targets -----------------------------------------------------------------------------------

PLAIN_TABLE = """
CREATE TABLE public.bench_plain (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id text, input jsonb NOT NULL, expected jsonb, tags text[] NOT NULL DEFAULT '{}')
"""
HASHED_TABLE = """
CREATE TABLE public.bench_hashed (LIKE evaltool.prompt INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE public.bench_hashed ALTER COLUMN dataset_id SET DEFAULT 1,
    ALTER COLUMN is_verified SET DEFAULT true;
ALTER TABLE public.bench_hashed ADD CONSTRAINT bench_hashed_key UNIQUE (dataset_id, prompt_hash);
CREATE TRIGGER prompt_before_write BEFORE INSERT OR UPDATE ON public.bench_hashed
    FOR EACH ROW EXECUTE FUNCTION evaltool.prompt_before_write();
"""
MIRROR_TABLE = """
CREATE TABLE public.bench_mirror (LIKE evaltool.prompt INCLUDING ALL);
ALTER TABLE public.bench_mirror ALTER COLUMN dataset_id SET DEFAULT 1,
    ADD FOREIGN KEY (dataset_id) REFERENCES evaltool.dataset (id);
DO $$
DECLARE
    definition text;
BEGIN  -- prompt's own triggers (hash, audit, updated_at), whatever sql/ defines them as
    FOR definition IN SELECT pg_get_triggerdef(oid) FROM pg_trigger
                      WHERE tgrelid = 'evaltool.prompt'::regclass AND NOT tgisinternal LOOP
        EXECUTE replace(definition, ' ON evaltool.prompt ', ' ON public.bench_mirror ');
    END LOOP;
END
$$;
"""
# Leaves evaltool.prompt (emptied) with limit-hashed's indexes and triggers only: the unique
# (dataset_id, prompt_hash) and the hash trigger; its CHECK constraints stay.
CUT_DOWN_PROMPT = """
TRUNCATE evaltool.prompt CASCADE;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'evaltool.prompt'::regclass AND contype IN ('p', 'f') LOOP
        EXECUTE format('ALTER TABLE evaltool.prompt DROP CONSTRAINT %I CASCADE', r.conname);
    END LOOP;
    FOR r IN SELECT indexrelid::regclass AS name FROM pg_index
             WHERE indrelid = 'evaltool.prompt'::regclass
               AND indexrelid <> 'evaltool.prompt_dataset_hash_key'::regclass LOOP
        EXECUTE format('DROP INDEX %s', r.name);
    END LOOP;
    FOR r IN SELECT tgname FROM pg_trigger
             WHERE tgrelid = 'evaltool.prompt'::regclass AND NOT tgisinternal
               AND tgname <> 'prompt_before_write' LOOP
        EXECUTE format('DROP TRIGGER %I ON evaltool.prompt', r.tgname);
    END LOOP;
END
$$;
"""


def fresh_database(admin_url: str) -> str:
    """The bench database, migrated, with the target tables."""
    url = benchdb.fresh_database(admin_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'limit')")
        for ddl in (PLAIN_TABLE, HASHED_TABLE, MIRROR_TABLE):
            conn.execute(ddl)
    return url


# -- workers: each runs in a process of its own and prints {"seconds", "peak_kb"} ---------------


def work(method: str, url: str, jsonl: Path, copy: Path) -> dict[str, float]:
    start = time.perf_counter()
    if method.startswith("limit-"):
        table = {
            "limit-plain": "bench_plain",
            "limit-hashed": "bench_hashed",
            "limit-mirror": "bench_mirror",
        }[method]
        subprocess.run(
            [
                str(embedded.psql_path()),
                url,
                "-qX",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f"\\copy public.{table} {COLUMNS} FROM '{copy}'",
            ],
            check=True,
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    elif method.startswith("evaltool"):
        env = {**os.environ, "EVALTOOL_DATABASE_URL": url}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "evaltool",
                "load",
                "prompts",
                str(jsonl),
                "--dataset",
                method,
                "--quiet",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    elif method == "executemany":
        with psycopg.connect(url) as conn, jsonl.open(encoding="utf-8") as lines:
            rows = (
                (d["id"], Jsonb(d["input"]), Jsonb(d["expected"]), d["tags"])
                for d in map(json.loads, lines)
            )
            conn.cursor().executemany(
                f"INSERT INTO public.bench_plain {COLUMNS} VALUES (%s, %s, %s, %s)", rows
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    elif method == "orm":
        orm_load(url, jsonl)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    else:
        raise SystemExit(f"unknown method {method}")
    return {"seconds": time.perf_counter() - start, "peak_kb": peak}


def orm_load(url: str, jsonl: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.dialects.postgresql import ARRAY, JSONB
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
    from sqlalchemy.types import Text

    class Base(DeclarativeBase):
        pass

    class Plain(Base):
        __tablename__ = "bench_plain"
        __table_args__: ClassVar = {"schema": "public"}
        id: Mapped[int] = mapped_column(primary_key=True)
        external_id: Mapped[str] = mapped_column(Text)
        input = mapped_column(JSONB)
        expected = mapped_column(JSONB)
        tags = mapped_column(ARRAY(Text))

    params = psycopg.conninfo.conninfo_to_dict(url)
    engine = create_engine("postgresql+psycopg://", connect_args=params)
    with Session(engine) as session, jsonl.open(encoding="utf-8") as lines:
        for count, line in enumerate(lines, start=1):
            doc = json.loads(line)
            session.add(
                Plain(
                    external_id=doc["id"],
                    input=doc["input"],
                    expected=doc["expected"],
                    tags=doc["tags"],
                )
            )
            if count % 1000 == 0:
                session.commit()
        session.commit()


def run_worker(method: str, url: str, jsonl: Path, copy: Path) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        if method == "evaltool-hashed":
            conn.execute(CUT_DOWN_PROMPT)
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")  # start each measurement with clean buffers
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, url, str(jsonl), str(copy)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip", nargs="*", default=[], help="methods to leave out, e.g. orm")
    parser.add_argument(
        "--worker", nargs=4, metavar=("METHOD", "URL", "JSONL", "COPY"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        method, url, jsonl, copy = args.worker
        print(json.dumps(work(method, url, Path(jsonl), Path(copy))))
        return

    admin = db.database_url()
    with psycopg.connect(admin) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    print(f"generating {args.rows:,} test cases ...", flush=True)
    jsonl, copy = generate(args.rows)
    small_jsonl, small_copy = generate(max(args.rows // 10, 1))
    print(
        f"{jsonl} ({jsonl.stat().st_size / 1e6:,.0f} MB); PostgreSQL {version}; "
        f"{os.cpu_count()} CPUs\n",
        flush=True,
    )

    # evaltool-hashed comes last: it cuts the database's prompt table down.
    methods = [
        "limit-plain",
        "limit-hashed",
        "limit-mirror",
        "evaltool",
        "executemany",
        "orm",
        "evaltool-hashed",
    ]
    results: dict[str, dict[str, float]] = {}
    url = fresh_database(admin)
    small = None
    for method in [m for m in methods if m not in args.skip]:
        print(f"  {method} ...", end="", flush=True)
        results[method] = run_worker(method, url, jsonl, copy)
        print(f" {results[method]['seconds']:.1f} s", flush=True)
        if method == "evaltool":
            small = run_worker("evaltool-small", url, small_jsonl, small_copy)
    benchdb.drop_database(admin)

    print(f"\n{'method':<16}{'seconds':>9}{'rows/s':>11}{'peak MB':>9}  ratios")
    for method, r in results.items():
        rate = args.rows / r["seconds"]
        print(
            f"{method:<16}{r['seconds']:>9.1f}{rate:>11,.0f}{r['peak_kb'] / 1024:>9.0f}  "
            + ratios(method, results)
        )
    if small:
        small_mb, large_mb = small["peak_kb"] / 1024, results["evaltool"]["peak_kb"] / 1024
        print(
            f"\nevaltool peak memory: {small_mb:.0f} MB at {args.rows // 10:,} rows, "
            f"{large_mb:.0f} MB at {args.rows:,} rows"
        )


def ratios(method: str, results: dict[str, dict[str, float]]) -> str:
    """Speed relative to the references the issue names (higher is faster)."""

    def vs(ref: str) -> str:
        if ref not in results or ref == method:
            return ""
        return f"{results[ref]['seconds'] / results[method]['seconds']:.2f} x {ref}"

    refs = {
        "evaltool": ["limit-hashed", "limit-mirror", "orm"],
        "evaltool-hashed": ["limit-hashed"],
        "executemany": ["limit-plain"],
        "orm": ["limit-plain"],
        "limit-hashed": ["limit-plain"],
        "limit-mirror": ["limit-hashed"],
    }.get(method, [])
    return ", ".join(filter(None, (vs(ref) for ref in refs)))


if __name__ == "__main__":
    main()
