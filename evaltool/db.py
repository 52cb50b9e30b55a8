"""Connections: which database evaltool uses, and the checks made on connecting.

$EVALTOOL_DATABASE_URL selects any PostgreSQL >= 14; without it, the embedded server is
started on first use. Connection problems become one-line DatabaseUnavailable errors.
"""

import getpass
import re
from urllib.parse import urlsplit, urlunsplit

import psycopg

from evaltool import config, embedded
from evaltool.errors import DatabaseUnavailable

MIN_SERVER_VERSION = 140000
# password=value in a key=value DSN, the value bare or single-quoted with \' escapes
_DSN_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
CONNECT_TIMEOUT_S = 10


def database_url() -> str:
    """The URL of the database to use, starting the embedded server when none is configured."""
    return config.database_url_from_env() or embedded.ensure_running().url


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection to evaltool's database and check the server can be used.

    The connection carries the operating-system user as `evaltool.actor`, which the audit
    triggers record as the author of changes.
    """
    url = url or database_url()
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="evaltool",
        )
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {redact(url)}: {first_line(exc)}"
            + (f" (from ${config.DATABASE_URL_ENV})" if config.database_url_from_env() else "")
        ) from exc
    try:
        check_server_version(conn.info.server_version, url)
        conn.execute("SELECT set_config('evaltool.actor', %s, false)", [_os_user()])
        if not autocommit:
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


async def connect_async(url: str) -> psycopg.AsyncConnection:
    """An asyncio connection to a database that `connect` already checked, for workers."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, connect_timeout=CONNECT_TIMEOUT_S, application_name="evaltool run"
        )
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact(url)}: {first_line(exc)}") from exc
    await conn.execute("SELECT set_config('evaltool.actor', %s, false)", [_os_user()])
    await conn.commit()
    return conn


def check_server_version(server_version: int, url: str) -> None:
    """Refuse servers older than PostgreSQL 14, whose SQL evaltool does not support."""
    if server_version < MIN_SERVER_VERSION:
        raise DatabaseUnavailable(
            f"PostgreSQL {version_text(server_version)} at {redact(url)} is too old: "
            "evaltool needs PostgreSQL 14 or newer"
        )


def redact(url: str) -> str:
    """The URL or key=value DSN with its password masked, fit for messages and logs."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return _DSN_PASSWORD.sub(r"\1***", url)


def version_text(server_version: int) -> str:
    """'18.1' from libpq's 180001."""
    return f"{server_version // 10000}.{server_version % 10000}"


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
