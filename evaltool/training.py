"""Training examples: export for fine-tuning tools, with deterministic splits; list, show,
soft delete and restore.

An example's split depends only on its hash and the seed (see `bucket`), never on the
order or the number of the rows: an example keeps its split as the set grows.
"""

import hashlib
import re
import sys
from collections.abc import Generator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

import psycopg

from evaltool import queries
from evaltool.errors import EvaltoolError
from evaltool.files import written_whole

FORMATS = ("prompt-completion", "chat")
# How far the fractions of a split may sum from 1.
TOLERANCE = Fraction(1, 10**9)
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SPLIT_PART = re.compile(r"^\s*([^=\s]*)\s*=\s*(\S*)\s*$")
# Buckets are first 8 bytes of a SHA-256, read as unsigned numbers below 2^64.
BUCKETS = 2**64


@dataclass(frozen=True)
class Split:
    """A part of an export: its name (the file NAME.jsonl) and its share of the examples."""

    name: str
    fraction: Fraction


@dataclass(frozen=True)
class Filters:
    """Which of a project's examples a command works on; None or empty matches all."""

    sources: Sequence[str] = ()
    min_priority: int | None = None
    max_priority: int | None = None
    batch: str | None = None

    def params(self) -> dict[str, Any]:
        """The filters as query parameters."""
        return {
            "sources": list(self.sources) or None,
            "min_priority": self.min_priority,
            "max_priority": self.max_priority,
            "batch": self.batch,
        }


def parse_splits(text: str) -> list[Split]:
    """Read NAME=FRACTION,NAME=FRACTION...: names for files, fractions above 0 summing to 1."""
    splits: list[Split] = []
    for part in text.split(","):
        match = _SPLIT_PART.match(part)
        if not match:
            raise EvaltoolError(
                f"--split {text!r}: write NAME=FRACTION,..., e.g. train=0.9,val=0.1"
            )
        name, value = match.groups()
        if not _SPLIT_NAME.match(name):
            raise EvaltoolError(
                f"--split: {name!r} is not a split name: letters, digits, - and _ "
                "(it names the file NAME.jsonl)"
            )
        if name in (s.name for s in splits):
            raise EvaltoolError(f"--split: {name} is named twice")
        try:
            fraction = Fraction(value)
        except (ValueError, ZeroDivisionError):
            raise EvaltoolError(
                f"--split: {name}={value}: the fraction must be a number such as 0.1"
            ) from None
        if not 0 < fraction <= 1:
            raise EvaltoolError(f"--split: {name}={value}: the fraction must be above 0, at most 1")
        splits.append(Split(name, fraction))
    total = sum((s.fraction for s in splits), Fraction(0))
    if abs(total - 1) > TOLERANCE:
        raise EvaltoolError(f"--split: the fractions sum to {float(total):g}, not 1")
    return splits


def lower_bounds(splits: Sequence[Split]) -> list[int]:
    """Where each split's buckets begin: 0, then floor(sum of the fractions before * 2^64)."""
    bounds, before = [], Fraction(0)
    for split in splits:
        bounds.append(int(before * BUCKETS))
        before += split.fraction
    return bounds


def bucket(seed: int, example_hash: bytes) -> int:
    """An example's bucket, from 0 to 2^64 - 1, as query training_export computes it: the
    first 8 bytes of sha256(seed as 8 big-endian bytes || example_hash), unsigned."""
    digest = hashlib.sha256(seed.to_bytes(8, "big") + example_hash).digest()
    return int.from_bytes(digest[:8], "big")


def split_of(seed: int, example_hash: bytes, splits: Sequence[Split]) -> str:
    """The name of the split an example falls in: the last whose lower bound is not above
    its bucket."""
    value = bucket(seed, example_hash)
    return [s.name for s, low in zip(splits, lower_bounds(splits), strict=True) if low <= value][-1]


def project_id(conn: psycopg.Connection, project: str) -> int:
    """The id of an existing project; a name that is not one is an error, so that a typo
    is not taken for an empty project (and no project is created)."""
    row = conn.execute(queries.get("training_project"), {"project": project}).fetchone()
    if row is not None:
        return int(row[0])
    names = [name for (name,) in conn.execute(queries.get("project_names"))]
    if not names:
        raise EvaltoolError(f"no project {project}: there are no projects yet")
    raise EvaltoolError(f"no project {project}: the projects are {', '.join(names)}")


def export(
    conn: psycopg.Connection,
    project: str,
    *,
    fmt: str,
    filters: Filters,
    splits: Sequence[Split] = (),
    seed: int = 0,
    output: Path | None = None,
) -> dict[str, int]:
    """Write a project's active examples that match `filters`, highest priority first, as
    JSON lines in format `fmt`: to `output` (standard output when None), or with `splits`
    to the files OUTPUT/NAME.jsonl, each whole or not at all. Returns how many lines went
    to each split (to "" without splits).

    The rows stream from COPY. A project with no example that matches is an error, raised
    before anything is written.
    """
    pid = project_id(conn, project)
    params = {"project_id": pid, **filters.params()}
    found = conn.execute(queries.get("training_any"), params).fetchone()
    if not (found and found[0]):
        what = "match these filters" if filters != Filters() else "to export"
        raise EvaltoolError(
            f"no training examples of project {project} {what}: see evaltool training show"
        )
    rows = _rows(
        conn,
        {
            **params,
            "format": fmt,
            "seed": seed,
            "split_names": [s.name for s in splits] or None,
            "split_bounds": [str(b) for b in lower_bounds(splits)] or None,
        },
    )
    with closing(rows):
        if splits:
            assert output is not None  # the command checks it
            return _write_splits(rows, output, [s.name for s in splits])
        if output is None:
            return {"": _write(rows, sys.stdout)}
        with written_whole(output) as handle:
            return {"": _write(rows, handle)}


def _rows(
    conn: psycopg.Connection, params: dict[str, Any]
) -> Generator[tuple[str | None, str], None, None]:
    with conn.cursor().copy(queries.get("training_export"), params) as copy:
        yield from copy.rows()


def _write(rows: Generator[tuple[str | None, str], None, None], out: TextIO) -> int:
    count = 0
    for _, line in rows:
        out.write(line + "\n")
        count += 1
    return count


def _write_splits(
    rows: Generator[tuple[str | None, str], None, None], directory: Path, names: list[str]
) -> dict[str, int]:
    counts = dict.fromkeys(names, 0)
    with ExitStack() as files:
        handles = {
            name: files.enter_context(written_whole(directory / f"{name}.jsonl")) for name in names
        }
        for split, line in rows:
            assert split is not None  # every bucket has a split
            handles[split].write(line + "\n")
            counts[split] += 1
    return counts


def listing(conn: psycopg.Connection, project: str | None) -> list[dict[str, Any]]:
    """Examples per project and data source: active, soft-deleted, priorities, last loaded."""
    if project is not None:
        project_id(conn, project)
    return queries.fetch_all(conn, "training_list", {"project": project})


def summary(conn: psycopg.Connection, project: str) -> dict[str, Any]:
    """A project's examples: counts, batches, when loaded, per source and priority band."""
    info = queries.fetch_one(conn, "training_show", {"project_id": project_id(conn, project)})
    assert info is not None  # an aggregate has a row
    return {"project": project, **info}


def count(conn: psycopg.Connection, project: str, filters: Filters, *, deleted: bool) -> int:
    """How many active (or with `deleted`, soft-deleted) examples match `filters`."""
    params = {"project_id": project_id(conn, project), "deleted": deleted, **filters.params()}
    row = conn.execute(queries.get("training_count"), params).fetchone()
    return int(row[0]) if row else 0


def soft_delete(
    conn: psycopg.Connection, project: str, filters: Filters, *, restore: bool = False
) -> int:
    """Soft-delete the active examples that match (restore: undelete the deleted ones);
    returns how many changed."""
    params = {"project_id": project_id(conn, project), **filters.params()}
    query = "training_restore" if restore else "training_soft_delete"
    return conn.execute(queries.get(query), params).rowcount
