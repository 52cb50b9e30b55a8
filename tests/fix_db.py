"""Real PostgreSQL for the tests: which server, a migrated template, a database per test.

EVALTOOL_TEST_DSN (libpq key=value or URL, any database) selects a server, e.g. the
machine's PostgreSQL 15: `host=/var/run/postgresql port=5432 user=root`. Without it, the
suite starts its own embedded PostgreSQL in .evaltool/test and stops it at the end, unless
another test session (a second terminal, make test's other half) still uses it: each
session holds a shared lock on .evaltool/test/sessions.lock, and the last one stops it.
Each test gets a database cloned from a template migrated once per session, through
pytest-postgresql's DatabaseJanitor, so test order never matters.
"""

import fcntl
import os
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql
from pytest_postgresql.janitor import DatabaseJanitor

from evaltool import config, embedded, migrate

TEST_DSN_ENV = "EVALTOOL_TEST_DSN"
SHARE_ENV = "EVALTOOL_TEST_SHARE"
REPO = Path(__file__).resolve().parent.parent


def _test_home() -> Path:
    """Where the embedded test server keeps its data: in memory (/dev/shm) where the machine
    has it, one directory per checkout. Every test clones a database, thousands of files,
    and on this machine's disk each file opened cost about 0.25 ms: 0.5 s per clone, about
    half of the suite's time, against 0.02 s in memory. Its data is scratch anyway."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"evaltool-tests-{os.getuid()}-{zlib.crc32(str(REPO).encode()):08x}"
    return REPO / ".evaltool" / "test"


EMBEDDED_TEST_HOME = _test_home()
# Every migration id, oldest first, and the schema version once all are applied.
MIGRATION_IDS = sorted(
    p.stem for p in config.data_dir("migrations").glob("*.sql") if ".rollback" not in p.name
)
LATEST = MIGRATION_IDS[-1]


@dataclass(frozen=True)
class Server:
    """Where the test server is, and what it is."""

    host: str
    port: int
    user: str
    password: str | None
    version_num: int
    version: str
    embedded: bool

    def url(self, dbname: str) -> str:
        """A libpq DSN for one database of this server."""
        params: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname,
        }
        if self.password:
            params["password"] = self.password
        return conninfo.make_conninfo(**params)

    def janitor(self, dbname: str, **kwargs: object) -> DatabaseJanitor:
        """pytest-postgresql's janitor for one database of this server."""
        return _Janitor(
            self.version_num >= 150000,
            user=self.user,
            host=self.host,
            port=self.port,
            password=self.password,
            dbname=dbname,
            **kwargs,
        )  # type: ignore[arg-type]


class _Janitor(DatabaseJanitor):
    """Clones the template by copying its files (STRATEGY FILE_COPY, PostgreSQL 15+; 14
    knows no other way) rather than through the WAL, the default since 15: 0.03 s against
    0.24 s per test database on PostgreSQL 15, without fsync."""

    def __init__(self, file_copy: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_copy = file_copy

    def _build_create_database_sql(self) -> sql.Composed:
        query = super()._build_create_database_sql()
        if self.template_dbname and self.file_copy:
            query += sql.SQL(" STRATEGY FILE_COPY")
        return query


_server: Server | None = None
_sessions_lock: int | None = None  # shared while this session uses the embedded server


def pytest_configure(config: pytest.Config) -> None:
    """Reach the server before any test runs; stop the run with one clear line if we cannot."""
    global _server, _sessions_lock
    dsn = os.environ.get(TEST_DSN_ENV)
    try:
        if dsn:
            params = conninfo.conninfo_to_dict(dsn)
            is_embedded = False
        else:
            EMBEDDED_TEST_HOME.mkdir(parents=True, exist_ok=True)
            _sessions_lock = os.open(EMBEDDED_TEST_HOME / "sessions.lock", os.O_RDWR | os.O_CREAT)
            fcntl.flock(_sessions_lock, fcntl.LOCK_SH)  # waits while a last session stops it
            previous = os.environ.get("EVALTOOL_HOME")
            os.environ["EVALTOOL_HOME"] = str(EMBEDDED_TEST_HOME)
            try:
                state = embedded.ensure_running()
            finally:
                _restore_env("EVALTOOL_HOME", previous)
            params = {"host": str(state.socket_dir), "port": state.port, "user": embedded.SUPERUSER}
            is_embedded = True
        params.setdefault("dbname", "postgres")
        with psycopg.connect(**params, connect_timeout=10) as conn:  # type: ignore[arg-type]
            if is_embedded:
                _without_durability(conn)
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            version_num = conn.info.server_version
            user = conn.info.user
            host = conn.info.host
            port = conn.info.port
    except Exception as exc:
        source = f"{TEST_DSN_ENV}={dsn}" if dsn else "the embedded test server"
        pytest.exit(f"cannot reach PostgreSQL ({source}): {exc}", returncode=3)
    _server = Server(
        host=host,
        port=int(port),
        user=user,
        password=params.get("password"),
        version_num=version_num,
        version=version,
        embedded=is_embedded,
    )


def _without_durability(conn: psycopg.Connection) -> None:
    """The test server's data is scratch: it need not survive a crash of the machine, so
    commits and database clones do not wait for the disk. Only for the embedded server the
    tests start themselves (.ci/with-pg15 does the same for its cluster)."""
    conn.autocommit = True
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
    conn.execute("SELECT pg_reload_conf()")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _sessions_lock is None:
        return
    try:
        # Only the last session using the server gets the lock exclusively, and stops it;
        # an earlier one leaves it running (its lock goes with its process).
        fcntl.flock(_sessions_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(_sessions_lock)  # so that the last session can tell it is the last
        return
    previous = os.environ.get("EVALTOOL_HOME")
    os.environ["EVALTOOL_HOME"] = str(EMBEDDED_TEST_HOME)
    try:
        embedded.stop()
    finally:
        _restore_env("EVALTOOL_HOME", previous)
        os.close(_sessions_lock)


def pytest_report_header(config: pytest.Config) -> str:
    if _server is None:
        return "postgresql: none"
    kind = "embedded" if _server.embedded else f"from {TEST_DSN_ENV}"
    return f"postgresql: {_server.version} ({kind}, {_server.host}:{_server.port})"


@pytest.fixture(scope="session")
def pg_server() -> Server:
    """The PostgreSQL server of this test session."""
    assert _server is not None
    return _server


@pytest.fixture(scope="session")
def template_db(pg_server: Server) -> Iterator[str]:
    """A database migrated once per session, cloned by every test that needs a schema."""
    name = f"evaltool_tmpl_{os.getpid()}"
    janitor = pg_server.janitor(name, as_template=True)
    with janitor:
        migrate.migrate(pg_server.url(name))
        yield name


@pytest.fixture
def db_url(pg_server: Server, template_db: str) -> Iterator[str]:
    """DSN of a fresh, migrated database of this test's own, dropped afterwards."""
    name = f"evaltool_test_{uuid.uuid4().hex[:12]}"
    with pg_server.janitor(name, template_dbname=template_db):
        yield pg_server.url(name)


@pytest.fixture
def empty_db_url(pg_server: Server) -> Iterator[str]:
    """DSN of a fresh database without evaltool's schema, dropped afterwards."""
    name = f"evaltool_empty_{uuid.uuid4().hex[:12]}"
    with pg_server.janitor(name):
        yield pg_server.url(name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to this test's migrated database."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """make test runs the suite on two servers at once (EVALTOOL_TEST_SHARE=0 on one, 1 on
    the other): the tests of the server's SQL run on both; each of the others (they use no
    server, or they test evaltool's handling of processes, signals and extra servers, and
    are marked slow) runs on one of the two, by a stable hash of its name, so that the two
    runs take about as long. Unset, everything runs."""
    share = os.environ.get(SHARE_ENV)
    if share not in ("0", "1"):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        both = "pg_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "slow"
        )
        mine = zlib.crc32(item.nodeid.encode()) % 2 == int(share)
        (keep if both or mine else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
