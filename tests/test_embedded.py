"""The embedded PostgreSQL, driven through the real `evaltool` command in fresh homes."""

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fix_db import LATEST, MIGRATION_IDS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def evaltool(home: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m evaltool ARGS` with EVALTOOL_HOME=home, as `user` when given (needs root)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    env["EVALTOOL_HOME"] = str(home)
    command = [sys.executable, "-m", "evaltool", *args]
    if user:
        # The ordinary user runs the system interpreter of the same version on our packages:
        # this session's interpreter may live in root's home, out of their reach.
        env["PYTHONPATH"] = f"{sysconfig.get_paths()['purelib']}:{REPO}"
        command = [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            *[f"{k}={v}" for k, v in env.items()],
            SYSTEM_PYTHON,
            "-m",
            "evaltool",
            *args,
        ]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=home.parent
    )


SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"


def postmasters(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline and "-D" in cmdline:
            found.append(proc)
    return found


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh EVALTOOL_HOME; whatever server it started is stopped afterwards."""
    path = tmp_path / "home"
    yield path
    if (path / "pgdata" / "postmaster.pid").exists():
        evaltool(path, "db", "stop")


def test_simultaneous_starts_share_one_server(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALTOOL_")}
    env["EVALTOOL_HOME"] = str(home)
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "evaltool", "db", "up"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in starts]
    assert [proc.returncode for proc in starts] == [0] * 4, outputs
    first_lines = {out.splitlines()[0] for out, _ in outputs}
    assert len(first_lines) == 1, first_lines  # one pid, one data directory
    servers = postmasters(home / "pgdata")
    assert len(servers) == 1
    assert f"(pid {servers[0].pid})" in first_lines.pop()
    if os.geteuid() == 0:  # PostgreSQL refuses root: it runs as a system user of its own
        assert servers[0].username() != "root"

    status = evaltool(home, "db", "status")
    assert status.returncode == 0 and "embedded, running" in status.stdout
    assert "pending     0001_core" in status.stdout
    assert evaltool(home, "db", "migrate").returncode == 0
    assert evaltool(home, "db", "health").returncode == 0

    stop = evaltool(home, "db", "stop")
    assert (stop.returncode, stop.stdout, stop.stderr) == (
        0,
        f"embedded PostgreSQL stopped ({home / 'pgdata'})\n",
        "",
    )
    assert postmasters(home / "pgdata") == []
    assert "embedded, stopped" in evaltool(home, "db", "status").stdout
    assert evaltool(home, "db", "stop").stdout == "embedded PostgreSQL is not running\n"

    # Data survives a restart, and the next command starts the server by itself.
    health = evaltool(home, "db", "health")
    assert health.returncode == 0 and f"schema      {LATEST}" in health.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the whole suite already runs as an ordinary user")
@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"no {SYSTEM_PYTHON}")
def test_works_as_an_ordinary_user(tmp_path: Path) -> None:
    shared = Path("/tmp") / f"evaltool-user-test-{os.getpid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    home = shared / "home"
    try:
        up = evaltool(home, "db", "up", user="nobody")
        assert up.returncode == 0, up.stderr
        (server,) = postmasters(home / "pgdata")
        assert server.username() == "nobody"
        assert pwd.getpwuid((home / "pgdata").stat().st_uid).pw_name == "nobody"
        migrated = evaltool(home, "db", "migrate", user="nobody")
        expected = "".join(f"applied {mid}\n" for mid in MIGRATION_IDS)
        assert migrated.stdout == expected, migrated.stderr
        assert evaltool(home, "db", "stop", user="nobody").returncode == 0
        assert postmasters(home / "pgdata") == []
    finally:
        if postmasters(home / "pgdata"):
            evaltool(home, "db", "stop", user="nobody")
        shutil.rmtree(shared, ignore_errors=True)
