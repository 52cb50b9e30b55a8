"""Input files: which ones a command line names, and their lines in large blocks.

Files are read in blocks of about a megabyte that end on a line boundary, so Python never
touches single rows on the fast path: the blocks go to COPY as they are. The checks made
here are the few that COPY's transport needs (no NUL or control bytes that COPY would
misread, no `\\.` end-of-data line, LF line ends); everything else is checked by the
database.
"""

import glob
import gzip
import io
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from evaltool.errors import EvaltoolError

BLOCK_SIZE = 1 << 20
BOM = b"\xef\xbb\xbf"
_GLOB_CHARS = re.compile(r"[*?\[]")
_BLANKISH_LINE = re.compile(rb"(?m)^[ \t]+$")
# Bytes that never occur in valid JSON text and that COPY's CSV transport would misread.
_FORBIDDEN = {
    0: "invalid JSON: NUL character",
    1: "invalid JSON: control character 0x01",
    2: "invalid JSON: control character 0x02",
    13: "carriage return inside a line",
}


class InputError(EvaltoolError):
    """Bad input: the message starts with FILE:LINE (`source` and `line`, where known)."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        super().__init__(message)
        self.source = source
        self.line = line


@dataclass(frozen=True)
class Source:
    """One input: a file (plain or gzip) or standard input."""

    name: str
    path: Path | None = None

    @property
    def size(self) -> int | None:
        """Bytes on disk, for progress; None for stdin."""
        return self.path.stat().st_size if self.path else None

    def open(self) -> BinaryIO:
        """The uncompressed bytes of the input, without a UTF-8 byte-order mark; an input
        that cannot be read (a damaged gzip file, an I/O error) is an InputError."""
        try:
            if self.path is None:
                return _without_bom(sys.stdin.buffer)
            with self.path.open("rb") as probe:
                gzipped = probe.read(2) == b"\x1f\x8b"
            if gzipped:
                return _without_bom(cast(BinaryIO, gzip.open(self.path, "rb")))
            return _without_bom(self.path.open("rb"))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.name}: {unreadable(exc)}", self.name) from exc


def unreadable(exc: BaseException) -> str:
    """Why an input could not be read, in a few words."""
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"not a readable gzip file ({exc})"
    if isinstance(exc, EOFError):
        return f"the file ends too early ({exc or 'truncated'})"
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc)


_WRAPPERS: dict[int, io.BufferedReader] = {}


def _without_bom(stream: BinaryIO) -> BinaryIO:
    """The stream past a UTF-8 byte-order mark, if it starts with one. Windows tools
    (Notepad, Excel's "CSV UTF-8") write one; it is no part of the data, and JSON parsers
    take it for an invisible invalid token."""
    buffered: Any = stream
    if not isinstance(stream, io.BufferedReader | gzip.GzipFile):
        # one wrapper per stream: a wrapper let go would close what it wraps (stdin)
        kept = _WRAPPERS.get(id(stream))
        if kept is None or kept.raw is not stream:
            kept = _WRAPPERS[id(stream)] = io.BufferedReader(cast(io.RawIOBase, stream))
        buffered = kept
    if buffered.peek(len(BOM)).startswith(BOM):
        buffered.read(len(BOM))
    return cast(BinaryIO, buffered)


def expand(args: Sequence[str], suffixes: Sequence[str]) -> list[Source]:
    """The inputs named by FILE arguments: paths, directories and globs (files with one of
    `suffixes`, in name order), or `-` for standard input."""
    sources: list[Source] = []
    for arg in args:
        if arg == "-":
            sources.append(Source("<stdin>"))
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.name.endswith(tuple(suffixes))
            )
            if not found:
                raise EvaltoolError(f"{arg}: no {' or '.join('*' + s for s in suffixes)} files")
            sources.extend(Source(str(p), p) for p in found)
        elif _GLOB_CHARS.search(arg):
            found = sorted(Path(p) for p in glob.glob(arg) if Path(p).is_file())
            if not found:
                raise EvaltoolError(f"{arg}: no file matches")
            sources.extend(Source(str(p), p) for p in found)
        elif path.is_file():
            sources.append(Source(arg, path))
        else:
            raise EvaltoolError(f"{arg}: no such file")
    if not sources:
        raise EvaltoolError("no input files given")
    return sources


OnProblem = Callable[[int, str, bytes], None]


def blocks(source: Source, on_problem: OnProblem | None = None) -> Iterator[tuple[bytes, int]]:
    """Yield (block, lines) for the whole input: blocks of complete LF-terminated lines.

    CRLF line ends become LF, and lines holding only spaces or tabs become empty (empty
    lines are kept, so that line numbers stay right). A line that cannot travel through
    COPY raises InputError naming it, or, with `on_problem`, is reported as (line, reason,
    bytes) and emptied.
    """
    line = 1
    rest = b""
    stream = source.open()
    try:
        while True:
            chunk = stream.read(BLOCK_SIZE)
            if not chunk:
                break
            data = rest + chunk
            end = data.rfind(b"\n") + 1
            if end == 0:
                rest = data
                continue
            block, rest = data[:end], data[end:]
            block = _clean(block, source, line, on_problem)
            count = block.count(b"\n")
            yield block, count
            line += count
        if rest:
            yield _clean(rest + b"\n", source, line, on_problem), 1
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip file
        raise InputError(f"{source.name}: {unreadable(exc)}", source.name) from exc
    finally:
        if source.path is not None:
            stream.close()


def _clean(block: bytes, source: Source, first_line: int, on_problem: OnProblem | None) -> bytes:
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    while (problem := _first_problem(block)) is not None:
        at, reason = problem
        start = block.rfind(b"\n", 0, at) + 1
        end = block.index(b"\n", at)
        line = first_line + block.count(b"\n", 0, start)
        if on_problem is None:
            raise InputError(f"{source.name}:{line}: {reason}", source.name, line)
        on_problem(line, reason, block[start:end])
        block = block[:start] + block[end:]
    # Blank-looking lines are rare: a quick find decides whether the regex runs at all.
    if b"\n " in block or b"\n\t" in block or block[:1] in (b" ", b"\t"):
        block = _BLANKISH_LINE.sub(b"", block)
    return block


def _first_problem(block: bytes) -> tuple[int, str] | None:
    found = [(block.find(bytes([byte])), reason) for byte, reason in _FORBIDDEN.items()]
    # COPY would take a line holding only \. as the end of the data.
    marker = -1 if block.startswith(b"\\.\n") else block.find(b"\n\\.\n")
    if block.startswith(b"\\.\n") or marker >= 0:
        found.append((marker + 1, "invalid JSON: \\."))
    found = [(at, reason) for at, reason in found if at >= 0]
    return min(found) if found else None
