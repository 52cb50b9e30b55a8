"""Named SQL queries, kept in the .sql files of this folder rather than in Python strings.

Each query starts with a header line `-- name --`, then comment lines that describe it,
then the statement, as in procrastinate's queries.sql. Names are unique across files.
"""

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

_HEADER = re.compile(r"^-- ([a-z][a-z0-9_]*) --$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """Split a queries file into {name: statement}; description comments are dropped."""
    chunks = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(chunks[1::2], chunks[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        statement = "\n".join(
            line for line in body.strip().splitlines() if not line.startswith("--")
        ).strip()
        if not statement:
            raise ValueError(f"query {name!r} has no statement")
        queries[name] = statement
    return queries


@cache
def _all() -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.sql")):
        for name, statement in parse(path.read_text()).items():
            if name in queries:
                raise ValueError(f"query {name!r} is defined twice ({path.name})")
            queries[name] = statement
    return queries


def get(name: str) -> str:
    """The statement of the named query."""
    return _all()[name]


def fetch_all(
    conn: psycopg.Connection, name: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of the named query, as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(get(name), params).fetchall()


def fetch_one(
    conn: psycopg.Connection, name: str, params: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The first row of the named query, as a dict, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(get(name), params).fetchone()


def names() -> list[str]:
    """All query names, for tests."""
    return sorted(_all())
