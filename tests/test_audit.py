"""The audit log misses no change that evaltool_writer can make to an audited table."""

import psycopg
import pytest
from psycopg import errors

from evaltool import migrate
from tests import test_roles
from tests.test_roles import Login

login = test_roles.login  # the fixture: a new login role in a given evaltool role

AUDITED = ["model", "model_pricing", "dataset", "prompt", "run"]
# Per audited table, a change to forge along with a new id (the attack).
FORGE = {
    "model": "description = 'FORGED'",
    "model_pricing": "input_usd_per_mtok = 0",
    "dataset": "description = 'FORGED'",
    "prompt": "expected = '\"FORGED\"'",
    "run": "notes = 'FORGED'",
}


@pytest.fixture
def writer(login: Login) -> psycopg.Connection:
    """A login of evaltool_writer that names itself alice."""
    connection = login("evaltool_writer")
    connection.execute("SET evaltool.actor = 'alice'")
    return connection


def one(conn: psycopg.Connection, query: str, params: object = None) -> object:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


@pytest.fixture
def rows(writer: psycopg.Connection) -> dict[str, int]:
    """One row in each audited table, inserted by the writer: the ids by table."""
    provider = one(writer, "INSERT INTO evaltool.provider (name) VALUES ('p') RETURNING id")
    ids = {
        "model": one(
            writer,
            """INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
               VALUES (%s, 'm', 'm-1', 'openai') RETURNING id""",
            [provider],
        ),
        "dataset": one(
            writer,
            "INSERT INTO evaltool.dataset (project_id, name) VALUES (1, 'golden') RETURNING id",
        ),
    }
    ids["model_pricing"] = one(
        writer,
        """INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, output_usd_per_mtok)
           VALUES (%s, 3, 15) RETURNING id""",
        [ids["model"]],
    )
    ids["prompt"] = one(
        writer,
        """INSERT INTO evaltool.prompt (dataset_id, input, expected)
           VALUES (%s, '"2+2?"', '4') RETURNING id""",
        [ids["dataset"]],
    )
    ids["run"] = one(
        writer,
        "INSERT INTO evaltool.run (model_id, dataset_id) VALUES (%s, %s) RETURNING id",
        [ids["model"], ids["dataset"]],
    )
    return ids


def state(conn: psycopg.Connection) -> tuple[object, ...]:
    """Every audited row and every audit row, to prove that nothing changed."""
    tables = [one(conn, f"SELECT jsonb_agg(t ORDER BY t.id) FROM evaltool.{t} t") for t in AUDITED]
    return (*tables, one(conn, "SELECT jsonb_agg(a ORDER BY a.id) FROM evaltool.audit_log a"))


@pytest.mark.parametrize("table", AUDITED)
def test_a_writer_cannot_change_an_id_to_hide_a_change(
    conn: psycopg.Connection, writer: psycopg.Connection, rows: dict[str, int], table: str
) -> None:
    before = state(conn)
    with pytest.raises(errors.GeneratedAlways) as caught:
        writer.execute(
            f"UPDATE evaltool.{table} SET id = DEFAULT, {FORGE[table]} WHERE id = %s",
            [rows[table]],
        )
    diag = caught.value.diag
    assert diag.message_primary == (
        f"id of evaltool.{table} cannot change: the audit log follows each row by its id"
    )
    assert diag.message_detail == f"Row {rows[table]} would become row {rows[table] + 1}."
    assert state(conn) == before


def test_nor_through_an_upsert_or_a_merge(
    conn: psycopg.Connection, writer: psycopg.Connection, rows: dict[str, int]
) -> None:
    before = state(conn)
    with pytest.raises(errors.GeneratedAlways):
        writer.execute(
            """INSERT INTO evaltool.prompt (id, dataset_id, input) OVERRIDING SYSTEM VALUE
               VALUES (%s, %s, '"x"')
               ON CONFLICT (id) DO UPDATE SET id = DEFAULT, expected = '"FORGED"'""",
            [rows["prompt"], rows["dataset"]],
        )
    if writer.info.server_version >= 150000:
        with pytest.raises(errors.GeneratedAlways):
            writer.execute(
                """MERGE INTO evaltool.model_pricing p USING (SELECT %s::bigint AS id) s
                   ON p.id = s.id
                   WHEN MATCHED THEN UPDATE SET id = DEFAULT, input_usd_per_mtok = 0""",
                [rows["model_pricing"]],
            )
    assert state(conn) == before


@pytest.mark.parametrize("table", ["prompt", "model_pricing"])
def test_after_a_forgery_is_refused_the_trail_shows_what_was_inserted_and_changed(
    conn: psycopg.Connection, writer: psycopg.Connection, rows: dict[str, int], table: str
) -> None:
    row = rows[table]
    column = "expected" if table == "prompt" else "input_usd_per_mtok"
    forge = f"UPDATE evaltool.{table} SET id = DEFAULT, {FORGE[table]} WHERE id = %s"
    with pytest.raises(errors.GeneratedAlways):
        writer.execute(forge, [row])
    # The same change, made in the open as another role, is logged with its author.
    writer.execute("SET ROLE evaltool_writer")
    writer.execute(f"UPDATE evaltool.{table} SET {FORGE[table]} WHERE id = %s", [row])
    trail = conn.execute(
        f"""SELECT action, old_row ->> '{column}', new_row ->> '{column}', actor, db_user
            FROM evaltool.audit_trail WHERE table_name = %s AND row_id = %s ORDER BY id""",
        [table, row],
    ).fetchall()
    inserted, forged = ("4", "FORGED") if table == "prompt" else ("3.000000", "0.000000")
    login_name = writer.info.user
    assert trail == [
        ("INSERT", None, inserted, "alice", login_name),
        ("UPDATE", inserted, forged, "alice", login_name),
    ]


def test_a_change_that_compares_equal_is_still_audited(
    conn: psycopg.Connection, writer: psycopg.Connection, rows: dict[str, int]
) -> None:
    # jsonb calls 4 and 4.0 equal, but an exact-match scorer reads "4" and "4.0".
    writer.execute("UPDATE evaltool.prompt SET expected = '4.0' WHERE id = %s", [rows["prompt"]])
    writer.execute("""UPDATE evaltool.model SET config = '{"timeout": 30.0}'""")
    writer.execute("""UPDATE evaltool.model SET config = '{"timeout": 30}'""")
    changes = conn.execute(
        """SELECT table_name, old_row ->> 'expected', new_row ->> 'expected',
                  old_row ->> 'config', new_row ->> 'config'
           FROM evaltool.audit_trail WHERE action = 'UPDATE' ORDER BY id"""
    ).fetchall()
    assert changes == [
        ("prompt", "4", "4.0", None, None),
        ("model", None, None, "{}", '{"timeout": 30.0}'),
        ("model", None, None, '{"timeout": 30.0}', '{"timeout": 30}'),
    ]
    # A statement that changes nothing still writes nothing.
    writer.execute("UPDATE evaltool.prompt SET expected = expected")
    assert one(conn, "SELECT count(*) FROM evaltool.audit_log WHERE action = 'UPDATE'") == 3


@pytest.mark.parametrize(
    "statement",
    [
        *(f"TRUNCATE evaltool.{table} CASCADE" for table in AUDITED),
        "ALTER TABLE evaltool.prompt DISABLE TRIGGER audit_update",
        "DROP TRIGGER keep_id ON evaltool.prompt",
        "CREATE TRIGGER mine BEFORE UPDATE ON evaltool.prompt "
        "FOR EACH ROW EXECUTE FUNCTION evaltool.touch_updated_at()",
        "SET session_replication_role = replica",
        "CREATE OR REPLACE FUNCTION evaltool.keep_id() RETURNS trigger "
        "LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
    ],
)
def test_a_writer_cannot_switch_the_audit_off(
    writer: psycopg.Connection, rows: dict[str, int], statement: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        writer.execute(statement)


def test_migrate_takes_back_truncate_and_trigger_from_writers(
    conn: psycopg.Connection, db_url: str
) -> None:
    conn.execute("GRANT TRUNCATE, TRIGGER ON evaltool.prompt, evaltool.score TO evaltool_writer")
    migrate.migrate(db_url)
    granted = conn.execute(
        """SELECT t, p FROM unnest('{evaltool.prompt,evaltool.score}'::text[]) t,
                            unnest('{TRUNCATE,TRIGGER}'::text[]) p
           WHERE has_table_privilege('evaltool_writer', t, p)"""
    ).fetchall()
    assert granted == []


def test_deletes_that_cascade_are_audited(
    conn: psycopg.Connection, writer: psycopg.Connection, rows: dict[str, int]
) -> None:
    writer.execute("DELETE FROM evaltool.run")
    writer.execute("DELETE FROM evaltool.model")
    writer.execute("DELETE FROM evaltool.dataset")
    deleted = conn.execute(
        """SELECT table_name, row_id FROM evaltool.audit_log
           WHERE action = 'DELETE' ORDER BY table_name"""
    ).fetchall()
    assert deleted == sorted((table, rows[table]) for table in AUDITED)


def test_the_trail_shows_no_values_for_a_row_that_left_without_an_audit_row(
    conn: psycopg.Connection, rows: dict[str, int]
) -> None:
    # Only the owner may TRUNCATE; with RESTART IDENTITY the next row takes the same id.
    assert rows["prompt"] == 1
    conn.execute("TRUNCATE evaltool.prompt RESTART IDENTITY CASCADE")
    conn.execute(
        """INSERT INTO evaltool.prompt (dataset_id, input, expected)
           VALUES (%s, '"3+3?"', '6')""",
        [rows["dataset"]],
    )
    inserts = conn.execute(
        """SELECT row_id, new_row ->> 'expected' FROM evaltool.audit_trail
           WHERE table_name = 'prompt' ORDER BY id"""
    ).fetchall()
    assert inserts == [(1, None), (1, "6")]
