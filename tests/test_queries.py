"""The named-query files: parsed strictly, and every query valid on the real schema."""

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


def test_every_query_is_valid_sql(conn: psycopg.Connection) -> None:
    # Preparing a statement parses and plans it against the schema without running it.
    for name in queries.names():
        statement = queries.get(name)
        conn.execute(f"PREPARE check_{name} AS {statement.rstrip(';')}")
        conn.execute(f"DEALLOCATE check_{name}")
