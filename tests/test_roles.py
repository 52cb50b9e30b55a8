"""evaltool_reader reads all and writes nothing; evaltool_writer cannot touch the audit log."""

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors, sql

from tests.fix_db import Server

Login = Callable[[str], psycopg.Connection]


@pytest.fixture
def login(pg_server: Server, db_url: str) -> Iterator[Login]:
    """Connect as a new login role that is a member of the given evaltool role."""
    made: list[tuple[str, psycopg.Connection]] = []
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]

    def connect(group: str) -> psycopg.Connection:
        name, password = f"evaltool_test_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(name), sql.Literal(password), sql.Identifier(group)
                )
            )
        # Trust on the socket (embedded), or password over TCP (a packaged server's peer auth
        # would refuse a role that is not an operating-system user).
        hosts = [pg_server.host, "127.0.0.1"]
        for host in hosts:
            try:
                conn = psycopg.connect(
                    host=host,
                    port=pg_server.port,
                    user=name,
                    password=password,
                    dbname=dbname,
                    autocommit=True,
                )
                break
            except psycopg.OperationalError:
                if host == hosts[-1]:
                    raise
        made.append((name, conn))
        return conn

    yield connect
    for name, conn in made:
        conn.close()
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("""SELECT c.relname FROM pg_class c JOIN pg_namespace n
                           ON n.oid = c.relnamespace WHERE n.nspname = 'evaltool'
                           AND c.relkind IN ('r', 'v', 'm') ORDER BY 1""").fetchall()
    return [row[0] for row in rows]


def test_reader_reads_every_table_and_writes_nothing(
    conn: psycopg.Connection, login: Login
) -> None:
    reader = login("evaltool_reader")
    names = tables(conn)
    assert "prompt" in names and "audit_log" in names
    for name in names:
        reader.execute(sql.SQL("SELECT count(*) FROM evaltool.{}").format(sql.Identifier(name)))
    assert reader.execute("SELECT name FROM evaltool.project").fetchall() == [("default",)]
    for statement in [
        "INSERT INTO evaltool.provider (name) VALUES ('sneaky')",
        "UPDATE evaltool.project SET description = 'changed'",
        "DELETE FROM evaltool.project",
        "INSERT INTO evaltool.audit_log (actor, table_name, action, row_id, new_row) "
        "VALUES ('x', 'run', 'INSERT', 1, '{}')",
    ]:
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute(statement)
    assert conn.execute("SELECT count(*), max(description) FROM evaltool.project").fetchone() == (
        1,
        "Workspace used when no project is named.",
    )


def test_writer_writes_and_is_audited_but_cannot_edit_the_audit_log(
    conn: psycopg.Connection, login: Login
) -> None:
    writer = login("evaltool_writer")
    writer.execute("SELECT set_config('evaltool.actor', 'ci-bot', false)")
    provider = writer.execute(
        "INSERT INTO evaltool.provider (name) VALUES ('openai') RETURNING id"
    ).fetchone()
    writer.execute(
        """INSERT INTO evaltool.model (provider_id, name, model_id, adapter)
                      VALUES (%s, 'gpt', 'gpt-4o', 'openai')""",
        provider,
    )
    audit = conn.execute(
        "SELECT table_name, action, actor, db_user FROM evaltool.audit_log"
    ).fetchall()
    assert audit == [("model", "INSERT", "ci-bot", writer.info.user)]
    for statement in [
        "DELETE FROM evaltool.audit_log",
        "UPDATE evaltool.audit_log SET actor = 'x'",
        "DELETE FROM evaltool._yoyo_migration",
    ]:
        with pytest.raises(errors.InsufficientPrivilege):
            writer.execute(statement)


def test_writers_refresh_the_aggregates_and_readers_cannot(
    conn: psycopg.Connection, login: Login
) -> None:
    writer = login("evaltool_writer")
    assert writer.execute("SELECT view_name FROM evaltool.refresh_aggregates()").fetchall() == [
        ("evaltool.run_metric_stats",),
        ("evaltool.cost_ledger",),
    ]
    writer.commit()
    reader = login("evaltool_reader")
    assert reader.execute("SELECT count(*) FROM evaltool.run_metric_stats").fetchone() == (0,)
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute("SELECT evaltool.refresh_aggregates()")
    assert conn.execute("SELECT count(*) FROM evaltool.refresh_log").fetchone() == (2,)
