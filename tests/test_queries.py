"""The named-query files: parsed strictly, and every query valid on the real schema."""

import re

import psycopg
import pytest

from evaltool import queries


def test_parse_splits_named_queries_and_drops_descriptions() -> None:
    text = "-- first --\n-- What it does.\nSELECT 1;\n\n-- second --\nSELECT 2\n-- trailing\n"
    assert queries.parse(text) == {"first": "SELECT 1;", "second": "SELECT 2"}


@pytest.mark.parametrize(
    "text, error",
    [
        ("-- a --\nSELECT 1\n-- a --\nSELECT 2\n", "defined twice"),
        ("-- a --\n-- only a description\n", "has no statement"),
    ],
)
def test_parse_rejects_mistakes(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        queries.parse(text)


# Statements that set up a load's temporary objects, run in this order before the others.
SETUP = ["stage_create", "docs_native", "prompt_rows_create"]
# Fragments checked as part of the statement they complete.
FRAGMENTS = {"prompt_on_conflict": "prompt_insert"}


def test_every_query_is_valid_sql(conn: psycopg.Connection) -> None:
    for name in SETUP:
        conn.execute(queries.get(name))
    checked = set(SETUP)
    for name in queries.names():
        statement = queries.get(name)
        if name in FRAGMENTS:
            statement = f"{queries.get(FRAGMENTS[name])}\n{statement}"
        elif name in checked or name in FRAGMENTS.values():
            continue
        if re.match(r"(COPY|CREATE|DROP)\b", statement):
            if statement.startswith("CREATE TEMP VIEW"):  # the other line formats
                with conn.transaction(force_rollback=True):
                    conn.execute("DROP VIEW pg_temp.evaltool_docs CASCADE")
                    conn.execute(statement)
            continue  # COPY needs data; DROP is run by the loads
        # Preparing parses and plans the statement against the schema without running it.
        numbered = _numbered(statement)
        with conn.transaction(force_rollback=True):
            conn.execute(f"PREPARE check_{name} AS {numbered}")
        checked.add(name)


def _numbered(statement: str) -> str:
    """%(name)s placeholders as $1, $2..., the same name getting the same number."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement)
