"""`evaltool load`: files into PostgreSQL through COPY, all or nothing.

One invocation is one transaction: inputs are staged with COPY into a temporary table,
validated, hashed and deduplicated in SQL, and inserted with one INSERT ... SELECT per
target table. A bad line stops everything with FILE:LINE and leaves the database as it
was, unless --skip-invalid sets such lines aside in a rejects file.
"""

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from evaltool import queries
from evaltool.files import written_whole
from evaltool.load.sources import InputError, Source
from evaltool.load.stage import Progress, Reject, Stage
from evaltool.progress import enter_phase

if TYPE_CHECKING:
    from evaltool.load.records import Records

_STAGING_ROW = re.compile(r"staging row (\d+)")


@dataclass
class LoadSummary:
    """What one load did: lines read, rows inserted, duplicates and rejects."""

    kind: str
    target: str
    files: int
    read: int
    inserted: int
    rejected: int
    seconds: float
    rejects_file: str | None = None
    created: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Valid lines that added nothing: already present, or repeated in the input."""
        return self.read - self.inserted - self.rejected

    def as_dict(self) -> dict[str, object]:
        """The summary for --json."""
        return {**asdict(self), "seconds": round(self.seconds, 3), "duplicates": self.duplicates}

    def text(self) -> str:
        """One line for people."""
        rate = self.read / self.seconds if self.seconds else 0.0
        line = (
            f"{self.kind}: {self.read:,} read, {self.inserted:,} inserted, "
            f"{self.duplicates:,} duplicates, {self.rejected:,} rejected -> {self.target} "
            f"({self.seconds:.1f} s, {rate:,.0f} lines/s)"
        )
        if self.created:
            line += f"; created {', '.join(self.created)}"
        if self.rejects_file:
            line += f"; rejects in {self.rejects_file}"
        return line


def insert_or_explain(
    conn: psycopg.Connection,
    stage: Stage,
    query: str,
    params: dict[str, object],
    explain: Callable[[psycopg.Error], str | None] | None = None,
) -> int:
    """Run a staging INSERT ... SELECT under a savepoint and return its row count.

    A row refused through evaltool.load_reject becomes FILE:LINE: reason; other errors
    are offered to `explain`, which may name the line at fault.
    """
    try:
        with conn.transaction():
            return conn.execute(query, params).rowcount
    except psycopg.Error as exc:
        if exc.sqlstate == "EVL01":  # DETAIL in load_reject's fixed words, never translated
            match = _STAGING_ROW.search(exc.diag.message_detail or "")
            assert match, exc.diag.message_detail
            raise InputError(
                f"{stage.where(int(match.group(1)))}: {exc.diag.message_primary}"
            ) from exc
        message = explain(exc) if explain else None
        if message:
            raise InputError(message) from exc
        raise


Insert = Callable[[Stage, dict[str, object]], int]


def load_rows(
    conn: psycopg.Connection,
    sources: Sequence[Source],
    *,
    kind: str,
    target: str,
    created: list[str],
    context: dict[str, int | None],
    rows_view: str,
    insert: str | Insert,
    params: dict[str, object],
    skip_invalid: bool,
    rejects_path: Path | None,
    progress: Progress,
    stage_inputs: Callable[[Stage], None] | None = None,
    rows_rejects: str = "rows_rejects",
    set_aside: Callable[[Stage], list[Reject]] | None = None,
    records: "Records | None" = None,
) -> LoadSummary:
    """Stage JSON lines, check them through the named row view, run the named insert.

    The row view `pg_temp.evaltool_rows (ord, doc, reason, ...)` reads the staging table
    and the one-row `pg_temp.evaltool_load_context` made from `context` (project_id,
    dataset_id, run_id, run_b_id, model_id). With skip_invalid, bad lines go to the rejects file;
    otherwise the first one raises InputError. Runs inside the caller's transaction.

    A load with more to do passes steps of its own: `stage_inputs` fills the stage (and
    makes what the row view reads; the default stages the JSON Lines files), `rows_rejects`
    names the query of the row view's bad lines, `set_aside` finds more lines to reject
    under skip_invalid, and `insert` may be a function of the stage and the parameters.
    `records`, where given, reads the inputs in Python instead of the COPY fast path.
    Once the inputs are staged, `progress` is told of the phases "checking" and
    "inserting", which count nothing (see evaltool.progress).
    """
    start = time.monotonic()
    stage = Stage(conn)
    if stage_inputs is None:
        stage_files(stage, sources, records, progress, skip_invalid=skip_invalid)
    else:
        stage_inputs(stage)
    enter_phase(progress, "checking")
    firsts, names = zip(*stage.sources(), strict=True)
    conn.execute(
        queries.get("context_create"),
        {
            "project_id": None,
            "dataset_id": None,
            "run_id": None,
            "run_b_id": None,
            "model_id": None,
            **context,
            "first_rows": list(firsts),
            "source_names": list(names),
        },
    )
    conn.execute(queries.get(rows_view))
    if stage.stopped is not None:
        first = conn.execute(queries.get(rows_rejects)).fetchone()
        _raise_first(stage.stopped, first, stage, sources)
    rejects = list(stage.rejects)
    if skip_invalid:
        for ord, reason, text in conn.execute(queries.get(rows_rejects)):
            rejects.append(Reject(ord, *stage.locate(ord), reason, text))
        if set_aside is not None:
            rejects.extend(set_aside(stage))
    params = {**params, "skip_invalid": skip_invalid}
    enter_phase(progress, "inserting")
    if isinstance(insert, str):
        inserted = insert_or_explain(conn, stage, queries.get(insert), params)
    else:
        inserted = insert(stage, params)
    conn.execute(queries.get("context_drop"))
    return finish(
        conn,
        stage,
        kind=kind,
        target=target,
        files=len(sources),
        inserted=inserted,
        rejects=rejects,
        rejects_path=rejects_path,
        created=created,
        start=start,
    )


def stage_files(
    stage: Stage,
    sources: Sequence[Source],
    records: "Records | None",
    progress: Progress,
    *,
    skip_invalid: bool,
) -> None:
    """Stage the inputs: JSON Lines through the COPY fast path, or, with `records`, each
    record as read and reshaped in Python."""
    if records is None:
        stage.copy_files(sources, progress, skip_invalid=skip_invalid)
        return
    for source in sources:
        stage.copy_records(source, records(source), progress, skip_invalid=skip_invalid)


def _raise_first(
    stopped: InputError,
    checked: tuple[int, str, str] | None,
    stage: Stage,
    sources: Sequence[Source],
) -> None:
    """Raise the error of the first bad line in file order: `stopped`, where the fast path
    stopped, or `checked`, the row view's first bad line, if it comes before."""
    if checked is not None:
        names = [s.name for s in sources]
        name, line = stage.locate(checked[0])
        if (names.index(name), line) < (names.index(stopped.source or name), stopped.line or 0):
            raise InputError(f"{name}:{line}: {checked[1]}", name, line) from stopped
    raise stopped


def finish(
    conn: psycopg.Connection,
    stage: Stage,
    *,
    kind: str,
    target: str,
    files: int,
    inserted: int,
    rejects: list[Reject],
    rejects_path: Path | None,
    created: list[str],
    start: float,
) -> LoadSummary:
    """Count what was read, drop the staging table, write the rejects file, and sum up."""
    staged = conn.execute(queries.get("docs_count")).fetchone()
    conn.execute(queries.get("stage_drop"))
    rejects.sort(key=lambda reject: reject.ord)
    if rejects and rejects_path:
        write_rejects(rejects_path, rejects)
    return LoadSummary(
        kind=kind,
        target=target,
        files=files,
        read=(staged[0] if staged else 0) + len(stage.rejects),
        inserted=inserted,
        rejected=len(rejects),
        seconds=elapsed_since(start),
        rejects_file=str(rejects_path) if rejects and rejects_path else None,
        created=created,
    )


def write_rejects(path: Path, rejects: list[Reject]) -> None:
    """The rejected lines as JSON lines: {"file", "line", "reason", "text"}."""
    with written_whole(path) as out:
        for reject in rejects:
            out.write(
                json.dumps(
                    {
                        "file": reject.source,
                        "line": reject.line,
                        "reason": reject.reason,
                        "text": reject.text,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )


def elapsed_since(start: float) -> float:
    """Seconds since a time.monotonic() reading."""
    return time.monotonic() - start
