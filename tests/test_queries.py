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


# Temporary objects of the loads and the Python scorers, made in this order before the rest.
SETUP = [
    "stage_create",
    "docs_native",
    "prompt_rows_create",
    "context_create",
    "result_stage",
    "pyscore_stage",
]
CONTEXT = {
    "project_id": 1,
    "dataset_id": None,
    "run_id": None,
    "run_b_id": None,
    "model_id": None,
    "first_rows": [1],
    "source_names": ["a.jsonl"],
}
# Each load's row view, and the statements that read it.
ROW_VIEWS = {
    "training_rows_create": ["training_insert", "rows_rejects"],
    "response_rows_create": ["response_insert"],
    "score_rows_create": ["score_insert"],
    "preference_rows_create": ["preference_insert"],
    "archive_rows_create": [
        "archive_check",
        "archive_partitions_restore",
        "archive_insert",
        "archive_insert_scores",
        "archive_insert_history",
        "archive_insert_preferences",
    ],
}
# Statements over an extension the test servers do not have.
NEEDS_EXTENSION = {"pg_cron_schedule"}
# Fragments checked as part of the statement they complete.
FRAGMENTS = {"prompt_on_conflict": "prompt_insert"}


def test_every_query_is_valid_sql(conn: psycopg.Connection) -> None:
    for name in SETUP:
        conn.execute(queries.get(name), CONTEXT if name == "context_create" else None)
    checked = set(SETUP)
    for view, readers in ROW_VIEWS.items():
        with conn.transaction(force_rollback=True):
            conn.execute(queries.get(view))
            for name in readers:
                _prepare(conn, name, queries.get(name))
        checked |= {view, *readers}
    for name in queries.names():
        statement = queries.get(name)
        if name in FRAGMENTS:
            statement = f"{queries.get(FRAGMENTS[name])}\n{statement}"
        elif name in checked or name in FRAGMENTS.values() or name in NEEDS_EXTENSION:
            continue
        if statement.startswith("ANALYZE "):  # a utility statement: run it as it is
            with conn.transaction(force_rollback=True):
                conn.execute(statement)
            continue
        if re.match(r"(COPY|CREATE|DROP)\b", statement):
            if statement.startswith("CREATE TEMP VIEW evaltool_docs"):  # the other line formats
                with conn.transaction(force_rollback=True):
                    conn.execute("DROP VIEW pg_temp.evaltool_docs CASCADE")
                    conn.execute(statement)
            continue  # COPY needs data; DROP is run by the loads
        _prepare(conn, name, statement)


def _prepare(conn: psycopg.Connection, name: str, statement: str) -> None:
    """Parse and plan a statement against the schema without running it."""
    with conn.transaction(force_rollback=True):
        conn.execute(f"PREPARE check_{name} AS {_numbered(statement)}")


def _numbered(statement: str) -> str:
    """%(name)s placeholders as $1, $2..., the same name getting the same number."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement)
