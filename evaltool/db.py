"""Connections: which database evaltool uses, and the checks made on connecting.

$EVALTOOL_DATABASE_URL selects any PostgreSQL >= 14; without it, the embedded server is
started on first use. Connection problems become one-line DatabaseUnavailable errors.
"""

import getpass
import re
from urllib.parse import quote, unquote

import psycopg
from psycopg import conninfo

from evaltool import config, embedded
from evaltool.errors import DatabaseUnavailable

MIN_SERVER_VERSION = 140000
CONNECT_TIMEOUT_S = 10
# libpq connection parameters whose values are secrets: shown as MASK, never on a command line.
SECRET_PARAMS = frozenset({"password", "sslpassword", "oauth_client_secret"})
MASK = "***"
_URL_SCHEME = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")


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
        raise _unavailable(url, exc) from exc
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
        raise _unavailable(url, exc) from exc
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


def without_secrets(url: str) -> tuple[str, dict[str, str]]:
    """The connection string minus its secrets, and the secrets by parameter name.

    For starting another program (psql): its command line is visible to every user in `ps`,
    so the secrets have to reach it another way, e.g. the password as $PGPASSWORD.
    """
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise _unavailable(url, exc) from exc
    found = {name: str(params.pop(name)) for name in sorted(SECRET_PARAMS) if name in params}
    return (conninfo.make_conninfo("", **params) if found else url), found


def redact(url: str) -> str:
    """The URL or key=value DSN with every secret value (user:PASSWORD@, ?password=,
    password=, sslpassword=, ...) replaced by ***, fit for messages and logs.

    Works on malformed strings too, which are shown in the error that refuses them.
    """
    shown, end = [], 0
    for start, stop in _secret_spans(url):
        shown += [url[end:start], MASK]
        end = stop
    return "".join(shown) + url[end:]


def hide_secrets(text: str, url: str | None = None) -> str:
    """`text` (an error message, a traceback) with the secret values of `url` masked.

    `url` defaults to $EVALTOOL_DATABASE_URL. libpq and psycopg quote parts of a bad
    connection string in their errors (a whole URI, a percent-encoded password), so every
    form a secret can take there is masked: as written, percent-decoded and percent-encoded.
    """
    url = config.database_url_from_env() if url is None else url
    for value in sorted(_secret_values(url or ""), key=len, reverse=True):
        # Whole values only, so that a password "postgres" leaves postgresql:// alone.
        before = r"(?<!\w)" if re.match(r"\w", value) else ""
        after = r"(?!\w)" if re.match(r"\w", value[-1]) else ""
        text = re.sub(before + re.escape(value) + after, MASK, text)
    return text


def _unavailable(url: str, exc: psycopg.Error) -> DatabaseUnavailable:
    """`cannot connect to URL: reason`, with the secrets of both masked."""
    origin = f" (from ${config.DATABASE_URL_ENV})" if config.database_url_from_env() else ""
    reason = hide_secrets(first_line(exc), url)
    return DatabaseUnavailable(f"cannot connect to {redact(url)}: {reason}{origin}")


def _secret_values(url: str) -> set[str]:
    """Every form the secrets of a connection string may take in a message."""
    is_url = bool(_URL_SCHEME.match(url))
    values = set()
    for start, stop in _secret_spans(url):
        raw = url[start:stop]
        values |= {raw, unquote(raw)} if is_url else {raw, _dsn_unquote(raw)}
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        params = {}
    values |= {str(v) for k, v in params.items() if k in SECRET_PARAMS}
    values |= {quote(v, safe="") for v in values}
    return {v for v in values if v}


def _secret_spans(url: str) -> list[tuple[int, int]]:
    """Where the secret values are in a connection string: (start, stop) in order."""
    return _url_secret_spans(url) if _URL_SCHEME.match(url) else _dsn_secret_spans(url)


def _url_secret_spans(url: str) -> list[tuple[int, int]]:
    # scheme://user:PASSWORD@host:port,host/dbname?key=value&password=PASSWORD
    spans = []
    start = url.index("://") + 3
    path = url.find("/", start)
    at = url.rfind("@", start, len(url) if path < 0 else path)
    if at >= 0:
        colon = url.find(":", start, at)
        if 0 <= colon < at - 1:
            spans.append((colon + 1, at))
    query = url.find("?", max(start, at + 1))
    if query >= 0:
        offset = query + 1
        for pair in url[offset:].split("&"):
            key, eq, value = pair.partition("=")
            if eq and value and unquote(key).strip() in SECRET_PARAMS:
                spans.append((offset + len(key) + 1, offset + len(pair)))
            offset += len(pair) + 1
    return spans


def _dsn_secret_spans(dsn: str) -> list[tuple[int, int]]:
    # key = value pairs, as libpq reads them: the value bare (with \ escapes) or 'quoted'.
    spans = []
    i, n = 0, len(dsn)
    while i < n:
        while i < n and dsn[i].isspace():
            i += 1
        key_start = i
        while i < n and dsn[i] != "=" and not dsn[i].isspace():
            i += 1
        secret = dsn[key_start:i] in SECRET_PARAMS
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n or dsn[i] != "=":
            if secret and i < n:
                spans.append((i, n))  # `password SECRET`: libpq refuses it, we hide it
            break
        i += 1
        while i < n and dsn[i].isspace():
            i += 1
        value_start = i
        quoted = i < n and dsn[i] == "'"
        i += quoted
        while i < n and (quoted or not dsn[i].isspace()):
            if dsn[i] == "\\":
                i += 1
            elif quoted and dsn[i] == "'":
                i += 1
                break
            i += 1
        i = min(i, n)
        if secret and i > value_start:
            spans.append((value_start, i))
    return spans


def _dsn_unquote(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
    return re.sub(r"\\(.)", r"\1", value)


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
