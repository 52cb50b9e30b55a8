"""The staging table of one load: the inputs go in through COPY, one row per input line.

Rows are numbered by `ord` in the order they arrive, and every input line becomes a row
(an empty line a NULL), so that a row number maps back to FILE:LINE without keeping
anything per line in Python. SQL validation names its row; a row that COPY refuses is the
one after the last number COPY drew from the `ord` sequence (sequences ignore rollbacks),
so no error text is ever read: it is in the server's language.

The fast path streams whole blocks of JSON lines to COPY in CSV form with a delimiter and
a quote byte that valid JSON never contains, so the database parses each line straight
into jsonb. With `skip_invalid`, lines are checked in Python first (so that one bad line
does not abort the COPY) and each block is sent under a savepoint; a line the database
still refuses is set aside and its block sent again.
"""

import bisect
import json
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import psycopg

from evaltool import db, queries
from evaltool.load.sources import BLOCK_SIZE, InputError, Source, blocks

_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# (mask, value, length) of UTF-8 lead bytes: how many bytes the sequence it starts has
_UTF8_LEADS = ((0x80, 0x00, 1), (0xE0, 0xC0, 2), (0xF0, 0xE0, 3), (0xF8, 0xF0, 4))

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    """A record read in Python that cannot be staged, and why."""

    reason: str
    raw: bytes


# (source line, JSON text of the record or its Problem)
Record = tuple[int, "str | Problem"]


@dataclass
class Reject:
    """A line left out of a --skip-invalid load, and why."""

    ord: int
    source: str
    line: int
    reason: str
    text: str


@dataclass
class _Span:
    first_ord: int
    source: Source
    lines: array | None = None  # line numbers per row, where rows are not lines (CSV)


class _Refused(Exception):
    """COPY refused staging row `ord` with `error`."""

    def __init__(self, ord: int, error: psycopg.Error) -> None:
        super().__init__(ord, error)
        self.ord = ord
        self.error = error


@dataclass
class Stage:
    """The staging table `pg_temp.evaltool_stage (ord, doc)` of one load transaction."""

    conn: psycopg.Connection
    rows: int = 0
    rejects: list[Reject] = field(default_factory=list)
    # where the fast path stopped, when the files were staged again to find an earlier line
    stopped: InputError | None = None
    _spans: list[_Span] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:  # stage large loads in memory; possible only before the session's first temp table
            with self.conn.transaction():
                self.conn.execute(queries.get("stage_memory"))
        except psycopg.errors.InvalidParameterValue:
            pass
        self.conn.execute(queries.get("stage_create"))

    def copy_files(
        self, sources: Sequence[Source], progress: Progress, *, skip_invalid: bool
    ) -> None:
        """Stage every line of JSON Lines inputs.

        Without skip_invalid, the fast path stops at the first line it cannot stage, but an
        earlier line may be bad in a way only the checks in SQL tell: then, where the inputs
        can be read again, they are staged again with bad lines set aside (the rare path),
        `stopped` keeps the first error, and the load names whichever comes first."""
        try:
            self._copy_files(sources, progress, skip_invalid=skip_invalid)
        except InputError as exc:
            if skip_invalid or exc.line is None or any(s.path is None for s in sources):
                raise
            self.conn.execute(queries.get("stage_create"))
            self.rows, self.rejects, self._spans = 0, [], []
            self._copy_files(sources, lambda rows, nbytes: None, skip_invalid=True)
            self.stopped = exc

    def _copy_files(
        self, sources: Sequence[Source], progress: Progress, *, skip_invalid: bool
    ) -> None:
        for source in sources:
            span = _Span(self.rows + 1, source)
            self._spans.append(span)
            if skip_invalid:

                def set_aside(
                    line: int, reason: str, raw: bytes, first: int = span.first_ord
                ) -> None:
                    self._reject(first + line - 1, reason, raw)

                for block, count in blocks(source, set_aside):
                    self._send_checked(block, source)
                    progress(count, len(block))
            else:
                self._send(self._counted(blocks(source), progress))

    def copy_records(
        self,
        source: Source,
        records: Iterable[Record],
        progress: Progress,
        *,
        skip_invalid: bool = False,
    ) -> None:
        """Stage JSON documents made in Python (from CSV, JSON documents, --map), each with
        its source line. A Problem is staged as NULL and set aside (skip_invalid), or kept
        as `stopped`: the load stops at it unless the checks in SQL find an earlier line."""
        span = _Span(self.rows + 1, source, array("L"))
        self._spans.append(span)

        def chunks() -> Iterator[bytes]:
            buffer: list[str] = []
            size = 0
            for line, text in records:
                assert span.lines is not None
                if isinstance(text, Problem):
                    raw = text.raw.decode("utf-8", "replace")
                    if skip_invalid:
                        ord = span.first_ord + len(span.lines)
                        self.rejects.append(Reject(ord, source.name, line, text.reason, raw))
                    elif self.stopped is None:  # the load names it, or an earlier bad line
                        self.stopped = InputError(
                            f"{source.name}:{line}: {text.reason}", source.name, line
                        )
                    text = ""  # staged as NULL, so that rows keep their numbers
                span.lines.append(line)
                buffer.append(text)
                size += len(text)
                if size >= BLOCK_SIZE:
                    yield self._join(buffer, progress)
                    buffer, size = [], 0
            if buffer:
                yield self._join(buffer, progress)

        self._send(chunks())

    def locate(self, ord: int) -> tuple[str, int]:
        """FILE and LINE of a staged row."""
        span = self._span(ord)
        offset = ord - span.first_ord
        return span.source.name, (span.lines[offset] if span.lines is not None else offset + 1)

    def where(self, ord: int) -> str:
        """'FILE:LINE' of a staged row, for messages."""
        source, line = self.locate(ord)
        return f"{source}:{line}"

    def sources(self) -> list[tuple[int, str]]:
        """(first ord, source name) of every input, for SQL that records where rows came from."""
        return [(span.first_ord, span.source.name) for span in self._spans]

    def _span(self, ord: int) -> _Span:
        return self._spans[bisect.bisect_right([s.first_ord for s in self._spans], ord) - 1]

    # -- sending -------------------------------------------------------------------------

    def _counted(self, items: Iterable[tuple[bytes, int]], progress: Progress) -> Iterator[bytes]:
        for block, count in items:
            self.rows += count
            progress(count, len(block))
            yield block

    def _join(self, texts: list[str], progress: Progress) -> bytes:
        block = ("\n".join(texts) + "\n").encode()
        self.rows += len(texts)
        progress(len(texts), len(block))
        return block

    def _send(self, chunks: Iterable[bytes]) -> None:
        """One COPY of the chunks; a refused row stops the load with its FILE:LINE."""
        try:
            self._copy(chunks)
        except _Refused as refused:
            # In the words --skip-invalid uses for the same line, where the line can be read
            # again: Python's JSON parser names it; else, or where only the server refuses
            # it, its reason by SQLSTATE.
            raw = self._raw_line(refused.ord)
            reason = (json_problem(raw) if raw is not None else None) or copy_error_reason(
                refused.error, raw
            )
            name, line = self.locate(refused.ord)
            raise InputError(f"{name}:{line}: {reason}", name, line) from refused.error

    def _copy(self, chunks: Iterable[bytes]) -> None:
        """One COPY of the chunks under a savepoint; raises _Refused for a row it refuses.

        COPY draws each row's `ord` once the row is parsed, so the row it stopped at comes
        right after the last number drawn: that number outlives the rollback."""
        try:
            with (
                self.conn.transaction(),
                self.conn.cursor().copy(queries.get("stage_copy")) as copy,
            ):
                for chunk in chunks:
                    copy.write(chunk)
        except psycopg.Error as exc:
            if not refuses_row(exc):
                raise
            row = self.conn.execute(queries.get("stage_next_ord")).fetchone()
            assert row is not None
            raise _Refused(row[0], exc) from exc

    def _send_checked(self, block: bytes, source: Source) -> None:
        first_ord = self.rows + 1
        lines = block.split(b"\n")[:-1]
        for index, raw in enumerate(lines):
            if raw:
                reason = json_problem(raw)
                if reason:
                    self._reject(first_ord + index, reason, raw)
                    lines[index] = b""
        while True:
            try:
                self._copy([b"\n".join(lines) + b"\n"])
                break
            except _Refused as refused:
                self.conn.execute(queries.get("stage_rewind"), {"next": first_ord})
                at = refused.ord - first_ord
                self._reject(refused.ord, copy_error_reason(refused.error, lines[at]), lines[at])
                lines[at] = b""
        self.rows += len(lines)

    def _raw_line(self, ord: int) -> bytes | None:
        """The bytes of a staged row's line, read again from its file (None from stdin)."""
        span = self._span(ord)
        if span.lines is not None or span.source.path is None:
            return None
        stream = span.source.open()
        try:
            for number, raw in enumerate(stream, span.first_ord):
                if number == ord:
                    return raw.rstrip(b"\r\n")
        finally:
            stream.close()
        return None

    def _reject(self, ord: int, reason: str, raw: bytes) -> None:
        source, line = self.locate(ord)
        self.rejects.append(Reject(ord, source, line, reason, raw.decode("utf-8", "replace")))


def json_problem(raw: bytes) -> str | None:
    """Why a line is not a JSON document the database will take, or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"invalid UTF-8 ({invalid_utf8(raw)})"
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        return "invalid JSON: \\u0000 (NUL) is not allowed"
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return "JSON nested too deeply"
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg}"
    except ValueError as exc:
        return f"invalid JSON: {exc}"
    return None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def refuses_row(exc: psycopg.Error) -> bool:
    """Whether a COPY error is about the row being read: bad data (SQLSTATE class 22) or
    a document beyond the server's limits (class 54), rather than the server or connection."""
    return (exc.sqlstate or "")[:2] in ("22", "54")


def copy_error_reason(exc: psycopg.Error, raw: bytes | None = None) -> str:
    """The reason a row was refused, in the words a user of JSON Lines expects.

    Chosen by SQLSTATE; the server's own words appear only as they are (its DETAIL of bad
    JSON, or its message when nothing else fits), never read. `raw` is the row's line,
    when known, for naming bytes that are not UTF-8."""
    detail = (exc.diag.message_detail or "").rstrip(".")
    if isinstance(exc, psycopg.errors.InvalidTextRepresentation):
        return f"invalid JSON: {detail}" if detail else "invalid JSON"
    if isinstance(exc, psycopg.errors.UntranslatableCharacter):
        return "invalid JSON: \\u0000 (NUL) is not allowed"
    if isinstance(exc, psycopg.errors.CharacterNotInRepertoire):
        bad = invalid_utf8(raw) if raw is not None else None
        return f"invalid UTF-8 ({bad})" if bad else "invalid UTF-8"
    if isinstance(exc, psycopg.errors.NumericValueOutOfRange):
        return "invalid JSON: number out of range"
    if isinstance(exc, psycopg.errors.StatementTooComplex):
        return "JSON nested too deeply"
    return db.first_line(exc)


def invalid_utf8(raw: bytes) -> str | None:
    """The first byte sequence of `raw` that is not UTF-8, written as PostgreSQL writes it
    ("0xe2 0x28 0xa1": as many bytes as the first one announces), or None."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lead = raw[exc.start]
        length = next((n for mask, value, n in _UTF8_LEADS if lead & mask == value), 1)
        return " ".join(f"0x{byte:02x}" for byte in raw[exc.start : exc.start + length])
    return None
