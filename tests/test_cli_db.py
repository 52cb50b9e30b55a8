"""`evaltool db`: what a user sees, and the exit codes scripts rely on."""

import json
import os
import subprocess
import sys
from collections.abc import Callable

import psycopg
import pytest
from click.testing import CliRunner, Result

from evaltool import db
from evaltool.cli import cli
from evaltool.errors import DatabaseUnavailable
from tests.fix_db import LATEST, MIGRATION_IDS

RunCli = Callable[..., Result]


def test_health_reports_version_schema_and_rows(run_cli: RunCli, pg_server) -> None:
    result = run_cli("db", "health")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"server      PostgreSQL {pg_server.version}"
    assert lines[2] == f"schema      {LATEST}"
    rows = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in lines[lines.index("rows") + 1 :]
    }
    assert rows["project"] == 1 and rows["prompt"] == 0 and "audit_log" in rows
    assert not [name for name in rows if "yoyo" in name]


def test_health_json(run_cli: RunCli, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO evaltool.provider (name) VALUES ('a'), ('b')")
    report = json.loads(run_cli("db", "health", "--json").stdout)
    assert report["ok"] is True and report["pending"] == []
    assert report["schema_version"] == LATEST
    assert report["tables"]["provider"] == 2


def test_health_fails_with_pending_migrations(empty_db_url: str) -> None:
    result = CliRunner().invoke(cli, ["db", "health"], env={"EVALTOOL_DATABASE_URL": empty_db_url})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {len(MIGRATION_IDS)} migration(s) pending ({', '.join(MIGRATION_IDS)}): "
        "run evaltool db migrate\n"
    )
    assert "schema      not migrated" in result.stdout


def test_commands_on_a_database_not_migrated_say_to_migrate(empty_db_url: str) -> None:
    result = CliRunner().invoke(cli, ["runs", "list"], env={"EVALTOOL_DATABASE_URL": empty_db_url})
    assert result.exit_code == 1
    assert result.stderr.endswith("does not exist: the schema is missing or older than "
                                  "evaltool: run evaltool db migrate\n")  # fmt: skip


@pytest.mark.parametrize(
    "url, reason",
    [
        ("postgresql://evaltool:s3cret@127.0.0.1:9/nowhere", "Connection refused"),
        ("not a url", 'missing "=" after "not"'),
        ("postgresql://127.0.0.1:5432/db?sslmode=bogus", "sslmode"),
    ],
)
def test_unusable_database_url_is_one_line_and_exit_2(url: str, reason: str) -> None:
    result = CliRunner().invoke(cli, ["db", "health"], env={"EVALTOOL_DATABASE_URL": url})
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot connect to ")
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr


def test_debug_shows_the_traceback() -> None:
    result = CliRunner().invoke(
        cli,
        ["--debug", "db", "health"],
        env={"EVALTOOL_DATABASE_URL": "postgresql://x@127.0.0.1:9/x"},
    )
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_old_servers_are_refused() -> None:
    with pytest.raises(
        DatabaseUnavailable,
        match=r"PostgreSQL 13\.9 at .* is too old: "
        r"evaltool needs PostgreSQL 14 or newer",
    ):
        db.check_server_version(130009, "postgresql://u:pw@h/db")
    db.check_server_version(140000, "postgresql://h/db")


def test_redact_masks_passwords() -> None:
    assert db.redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert db.redact("host=h password=pw dbname=d") == "host=h password=*** dbname=d"
    assert db.redact("password = 'a b\\' c' host=h") == "password = *** host=h"
    assert db.redact("not a url") == "not a url"
    assert db.redact("postgresql://h/d") == "postgresql://h/d"


def test_migrate_twice_then_up_to_date(empty_db_url: str) -> None:
    env = {"EVALTOOL_DATABASE_URL": empty_db_url}
    first = CliRunner().invoke(cli, ["db", "migrate"], env=env)
    applied = "".join(f"applied {mid}\n" for mid in MIGRATION_IDS)
    assert (first.exit_code, first.stdout) == (0, applied)
    second = CliRunner().invoke(cli, ["db", "migrate"], env=env)
    assert (second.exit_code, second.stdout) == (0, f"schema up to date at {LATEST}\n")


def test_rollback_asks_for_confirmation(run_cli: RunCli) -> None:
    refused = run_cli("db", "rollback")
    assert refused.exit_code == 2
    assert refused.stderr == "Error: rollback drops data: pass --yes to confirm\n"
    assert "pending" not in run_cli("db", "status").stdout

    done = run_cli("db", "rollback", "--yes")
    assert (done.exit_code, done.stdout) == (0, f"rolled back {LATEST}\n")
    status = run_cli("db", "status", "--json")
    report = json.loads(status.stdout)
    assert [m["id"] for m in report["applied"]] == MIGRATION_IDS[:-1]
    assert report["pending"] == [LATEST]
    assert report["server"]["kind"] == "external" and "***" not in report["server"]["url"]


def test_status_lists_migrations(run_cli: RunCli) -> None:
    lines = run_cli("db", "status").stdout.splitlines()
    assert lines[0].startswith("server      ") and lines[0].endswith("(from EVALTOOL_DATABASE_URL)")
    assert [line.split()[:2] for line in lines[1:]] == [["applied", m] for m in MIGRATION_IDS]


def test_url_prints_the_configured_database(run_cli: RunCli, db_url: str) -> None:
    assert run_cli("db", "url").stdout == db_url + "\n"


def test_psql_reaches_the_database(db_url: str) -> None:
    env = {**os.environ, "EVALTOOL_DATABASE_URL": db_url}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaltool",
            "db",
            "psql",
            "-tA",
            "-c",
            "SELECT name FROM evaltool.project",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "default\n"), result.stderr


def test_every_command_has_help_with_an_example() -> None:
    def walk(group, path):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path, command in walk(cli, []):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.stdout, f"evaltool {' '.join(path)} --help has no example"
        assert command.help and command.help.splitlines()[0].endswith("."), path
