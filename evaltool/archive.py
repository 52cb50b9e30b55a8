"""`evaltool runs archive` and `evaltool load archive`: old runs' rows out to a file and back.

Archiving writes every response of the runs, with its scores, score history and the
preferences that name it, to a gzip JSON Lines file (written whole, then renamed into
place), and only then, in one transaction, keeps each run's summary (run_archived), drops
the partitions of the ranges of run ids that are now entirely archived and deletes the rest
of the runs' rows. The runs, their statistics and their summaries stay, so lists,
leaderboards and trends still show them. Loading the file back restores every row with
its id, creating the dropped partitions again.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from evaltool import queries
from evaltool.files import written_whole
from evaltool.load import LoadSummary, insert_or_explain, load_rows
from evaltool.load.sources import Source
from evaltool.load.stage import Progress, Stage
from evaltool.progress import enter_phase

TABLES = ("score", "score_history", "response")  # referencing tables first


@dataclass
class Archived:
    """What `archive` did: the runs, the lines written, the ranges dropped whole."""

    runs: list[int]
    responses: int
    path: str
    dropped_ranges: list[tuple[int, int]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "responses": self.responses,
            "file": self.path,
            "dropped_ranges": [list(r) for r in self.dropped_ranges],
        }


def runs_before(conn: psycopg.Connection, before: datetime) -> list[int]:
    """The done runs created before `before` that are not archived yet."""
    return [row[0] for row in conn.execute(queries.get("archive_runs"), {"before": before})]


def responses(conn: psycopg.Connection, runs: list[int]) -> int:
    """How many responses of the runs `archive` writes, for progress."""
    row = conn.execute(queries.get("archive_count"), {"runs": runs}).fetchone()
    return row[0] if row else 0


def archive(
    conn: psycopg.Connection,
    runs: list[int],
    path: Path,
    progress: Callable[[int, int], None] = lambda done, errors: None,
) -> Archived:
    """Write the runs' rows to `path`, then remove them from the database (see module).
    `progress(responses, 0)` counts the responses written, as a TaskProgress does; it is
    then told of the phase "removing rows"."""
    written = 0
    with conn.transaction():
        with (
            written_whole(path, compress=path.name.endswith(".gz")) as out,
            conn.cursor(name="archive_lines") as cur,
        ):
            cur.itersize = 2000
            cur.execute(queries.get("archive_lines"), {"runs": runs})
            for (line,) in cur:
                out.write(line)
                out.write("\n")
                written += 1
                progress(1, 0)
        enter_phase(progress, "removing rows")
        conn.execute(queries.get("archive_remember"), {"runs": runs, "file": str(path)})
        conn.execute(queries.get("archive_preferences_delete"), {"runs": runs})
        dropped = [(int(a), int(b)) for a, b in conn.execute(queries.get("archive_ranges"))]
        for run_from, _ in dropped:
            _drop_range(conn, run_from)
        conn.execute(queries.get("archive_rows_delete"), {"runs": runs})
    return Archived(runs, written, str(path), dropped)


def _drop_range(conn: psycopg.Connection, run_from: int) -> None:
    """Drop a range's partitions: the referencing ones first, then the responses', detached
    first (its foreign keys are checked as it leaves)."""
    for table in TABLES:
        part = sql.Identifier(f"{table}_{run_from}")
        if table == "response":
            conn.execute(
                sql.SQL("ALTER TABLE evaltool.response DETACH PARTITION evaltool.{}").format(part)
            )
        conn.execute(sql.SQL("DROP TABLE evaltool.{}").format(part))
    conn.execute(queries.get("archive_range_dropped"), {"run_from": run_from})


def load_archive(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress = lambda rows, nbytes: None,
) -> LoadSummary:
    """Restore archive files: their runs' responses, scores, score history and preferences,
    with their ids; the runs are no longer archived."""

    def insert(stage: Stage, params: dict[str, object]) -> int:
        insert_or_explain(conn, stage, queries.get("archive_check"), params)
        for run_from, run_to in conn.execute(queries.get("archive_partitions_restore")).fetchall():
            conn.execute(
                queries.get("archive_partitions_create"), {"run_from": run_from, "run_to": run_to}
            )
            conn.execute(queries.get("archive_range_restored"), {"run_from": run_from})
        row = conn.execute(queries.get("archive_insert")).fetchone()
        restored, runs = (row[0], row[1] or []) if row else (0, [])
        for step in ("archive_insert_scores", "archive_insert_history"):
            conn.execute(queries.get(step))
        conn.execute(queries.get("archive_insert_preferences"))
        conn.execute(queries.get("archive_forget"), {"runs": runs})
        return int(restored)

    with conn.transaction():
        return load_rows(
            conn,
            sources,
            kind="archived responses",
            target="their runs",
            created=[],
            context={},
            rows_view="archive_rows_create",
            insert=insert,
            params={},
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
        )
