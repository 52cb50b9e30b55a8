"""Schema changes: yoyo migrations for tables, then the re-appliable definitions of sql/.

`migrations/` holds immutable history (tables, columns, indexes, constraints), applied by
yoyo, each in its own transaction, with its bookkeeping in schema evaltool. `sql/` holds
functions, triggers, views and grants as CREATE OR REPLACE definitions, applied in file
name order in one transaction after every migrate, so running migrate twice changes
nothing. A sql/ file that needs the tables of a later migration says so in a line
`-- requires: 0003_training_example` and is applied only while that migration is.
Migrations never create functions or views: a rollback can therefore drop all of sql/'s
objects first, roll back, and apply sql/ again.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import psycopg
from psycopg import conninfo, sql
from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.migrations import MigrationList

from evaltool import config, db, queries
from evaltool.errors import MigrationError

SCHEMA = "evaltool"
_REQUIRES = re.compile(r"^-- requires: (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class MigrationStatus:
    """Which migrations are applied (id, applied at) and which are pending (ids)."""

    applied: list[tuple[str, str]]
    pending: list[str]

    @property
    def version(self) -> str | None:
        """The last applied migration: the schema version."""
        return self.applied[-1][0] if self.applied else None


def migrate(url: str | None = None) -> list[str]:
    """Apply pending migrations, then every sql/ definition. Returns the ids applied."""
    url = url or db.database_url()
    with _locked(url) as conn:
        backend = _backend(url)
        try:
            migrations = _migrations()
            with backend.lock():
                pending = backend.to_apply(migrations)
                _run_yoyo(backend.apply_migrations, pending)
        finally:
            backend.connection.close()
        apply_definitions(conn)
    return [m.id for m in pending]


def rollback(url: str | None = None, count: int = 1) -> list[str]:
    """Undo the last `count` applied migrations, newest first. Returns the ids undone."""
    url = url or db.database_url()
    with _locked(url) as conn:
        backend = _backend(url)
        try:
            with backend.lock():
                undo = backend.to_rollback(_migrations())[:count]
                if not undo:
                    return []
                _drop_definitions(conn)
                try:
                    _run_yoyo(backend.rollback_migrations, undo)
                finally:
                    if backend.to_rollback(_migrations()):
                        apply_definitions(conn)
        finally:
            backend.connection.close()
    return [m.id for m in undo]


def status(conn: psycopg.Connection) -> MigrationStatus:
    """Applied and pending migrations, read without changing the database."""
    migrated = conn.execute(queries.get("migrations_table_exists")).fetchone()
    applied: list[tuple[str, str]] = []
    if migrated and migrated[0]:
        rows = conn.execute(queries.get("applied_migrations")).fetchall()
        applied = [(mid, f"{at:%Y-%m-%d %H:%M:%S} UTC") for mid, at in rows]
    done = {mid for mid, _ in applied}
    pending = [m.id for m in _migrations() if m.id not in done]
    return MigrationStatus(applied=applied, pending=pending)


def server_info(conn: psycopg.Connection) -> tuple[str, str, str, str]:
    """The server's version text, the database, its user and evaltool's user."""
    info = conn.execute(queries.get("server_info")).fetchone()
    assert info is not None
    return info


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per table of schema evaltool (estimates for large tables, as the query says)."""
    return dict(conn.execute(queries.get("table_row_counts")).fetchall())


def apply_definitions(conn: psycopg.Connection) -> list[str]:
    """Run the sql/ files in name order, in one transaction. Returns the names applied.

    Files whose `-- requires:` migration is not applied are left out.
    """
    applied = {mid for mid, _ in status(conn).applied}
    files = []
    for path in sorted(config.data_dir("sql").glob("*.sql")):
        text = path.read_text()
        required = _REQUIRES.findall(text)
        if set(required) <= applied:
            files.append((path, text))
    with conn.transaction():
        for path, text in files:
            try:
                # No parameters: psycopg sends the whole file in one simple query.
                conn.execute(text.encode())
            except psycopg.Error as exc:
                where = f"sql/{path.name}{_line_of(exc, text)}"
                raise MigrationError(f"{where}: {db.first_line(exc)}") from exc
    return [path.name for path, _ in files]


def yoyo_url(url: str) -> str:
    """The yoyo form of a libpq URL or DSN, with yoyo's bookkeeping in schema evaltool."""
    params = conninfo.conninfo_to_dict(url)
    netloc = ""
    if "user" in params:
        netloc = quote(str(params.pop("user")), safe="")
        if "password" in params:
            netloc += ":" + quote(str(params.pop("password")), safe="")
        netloc += "@"
    host = str(params.pop("host", ""))
    if host and not host.startswith("/") and "," not in host:
        netloc += host
        if "port" in params:
            netloc += ":" + str(params.pop("port"))
    elif host:
        params["host"] = host  # a socket directory travels as a query argument
    database = quote(str(params.pop("dbname", "")), safe="")
    params["schema"] = SCHEMA
    return f"postgresql+psycopg://{netloc}/{database}?{urlencode(params)}"


def _migrations() -> MigrationList:
    return read_migrations(str(config.data_dir("migrations")))


def _backend(url: str) -> DatabaseBackend:
    try:
        return get_backend(yoyo_url(url))
    except psycopg.Error as exc:
        raise MigrationError(f"yoyo could not connect: {db.first_line(exc)}") from exc


def _run_yoyo(step: Callable[[MigrationList], None], migrations: MigrationList) -> None:
    try:
        step(migrations)
    except psycopg.Error as exc:
        # yoyo runs each migration in its own transaction: the failed one left nothing.
        raise MigrationError(f"migration failed and was rolled back: {db.first_line(exc)}") from exc


@contextmanager
def _locked(url: str) -> Iterator[psycopg.Connection]:
    """A connection holding the migrate lock, with schema evaltool present for yoyo."""
    with db.connect(url, autocommit=True) as conn:
        conn.execute(queries.get("migrate_lock"))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            yield conn
        finally:
            conn.execute(queries.get("migrate_unlock"))


def _drop_definitions(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for (statement,) in conn.execute(queries.get("derived_objects")).fetchall():
            conn.execute(statement)


def _line_of(exc: psycopg.Error, text: str) -> str:
    position = exc.diag.statement_position
    if not position:
        return ""
    return f":{text[: int(position)].count(chr(10)) + 1}"
