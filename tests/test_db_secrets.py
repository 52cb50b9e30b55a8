"""Database passwords never appear: not on stdout, stderr, in --json, nor in the process list.

Every form libpq accepts a password in (URL user:password@, URL ?password=, key=value DSN
password=) goes through every `evaltool db` command that shows a connection or its errors,
against the real test server (whose trust auth ignores the password) and against URLs that
cannot connect: a closed port, a host that does not exist, and bad syntax, whose libpq error
quotes the connection string.
"""

import json
import os
import subprocess
import sys
import time
from urllib.parse import quote

import psutil
import pytest
from click.testing import CliRunner, Result
from psycopg import conninfo

from evaltool import db
from evaltool.cli import cli
from tests.fix_db import Server

# A made-up password, with characters that URLs percent-encode and DSNs quote. Its head is
# the same in every encoding, so finding the head finds any form of it.
FAKE_HEAD = "Zq8s3cr"
FAKE = FAKE_HEAD + ":t/P@w 9'x"
EVALTOOL = [sys.executable, "-m", "evaltool"]
FORMS = ["url-userinfo", "url-query", "dsn"]
COMMANDS = [
    ["db", "health"],
    ["db", "health", "--json"],
    ["db", "status"],
    ["db", "status", "--json"],
]


def q(text: str) -> str:
    return quote(text, safe="")


def with_password(form: str, password: str, host: str, port: object, user: str, dbname: str) -> str:
    """A connection string with the password in one of the forms libpq accepts."""
    if form == "url-userinfo":
        return f"postgresql://{q(user)}:{q(password)}@/{q(dbname)}?host={q(host)}&port={port}"
    if form == "url-query":
        return (
            f"postgresql://{q(user)}@/{q(dbname)}?host={q(host)}&port={port}&password={q(password)}"
        )
    return conninfo.make_conninfo(host=host, port=port, user=user, dbname=dbname, password=password)


def dsn_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def failing(form: str, failure: str, password: str) -> tuple[str, str]:
    """A connection string that cannot connect, and what libpq or psycopg says of it."""
    if failure == "closed port":
        return with_password(form, password, "127.0.0.1", 9, "u", "db"), "Connection refused"
    if failure == "no such host":
        url = with_password(form, password, "no-such-host.invalid", 5432, "u", "db")
        return url, "failed to resolve host 'no-such-host.invalid'"
    # Bad syntax: for a URI, libpq quotes the whole string in its error.
    if form == "url-userinfo":
        return f"postgresql://u:{q(password)}@[::1/db", 'matching "]" in IPv6 host address in URI'
    if form == "url-query":
        url = f"postgresql://u@[::1/db?password={q(password)}"
        return url, 'matching "]" in IPv6 host address in URI'
    url = f"host=h password={dsn_quote(password)[:-1]}"  # no closing quote
    return url, "unterminated quoted string in connection info string"


def leaked(text: str, password: str) -> list[str]:
    """The forms of the password found in text."""
    forms = {password, q(password), quote(password)}
    if password == FAKE:
        forms.add(FAKE_HEAD)
    return sorted(form for form in forms if form in text)


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"EVALTOOL_DATABASE_URL": url})


@pytest.fixture
def password(pg_server: Server) -> str:
    """The password to hide: the test server's own when it needs one, else a made-up one."""
    return pg_server.password or FAKE


@pytest.mark.parametrize("form", FORMS)
def test_a_working_connection_shows_no_password(
    form: str, pg_server: Server, db_url: str, password: str
) -> None:
    dbname = str(conninfo.conninfo_to_dict(db_url)["dbname"])
    url = with_password(form, password, pg_server.host, pg_server.port, pg_server.user, dbname)
    for args in COMMANDS:
        result = invoke(url, *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert leaked(result.stdout + result.stderr, password) == [], args
    report = json.loads(invoke(url, "db", "status", "--json").stdout)
    assert report["server"]["url"] == db.redact(url) and "***" in report["server"]["url"]
    status = invoke(url, "db", "status").stdout.splitlines()[0]
    assert status == f"server      {db.redact(url)} (from EVALTOOL_DATABASE_URL)"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("failure", ["closed port", "no such host", "bad syntax"])
def test_connection_errors_show_no_password(form: str, failure: str, password: str) -> None:
    url, reason = failing(form, failure, password)
    for args in COMMANDS:
        result = invoke(url, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == "", args
        assert result.stderr.startswith(f"Error: cannot connect to {db.redact(url)}: "), args
        assert reason in result.stderr and result.stderr.count("\n") == 1, args
        assert leaked(result.stderr, password) == [], (args, result.stderr)


@pytest.mark.parametrize("form", FORMS)
def test_debug_tracebacks_show_no_password(form: str, password: str) -> None:
    url, _ = failing(form, "bad syntax", password)
    result = invoke(url, "--debug", "db", "health")
    assert result.exit_code == 2 and "Traceback" in result.stderr
    assert leaked(result.stderr, password) == [], result.stderr


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:p%40ss@h/d", "postgresql://u:***@h/d"),
        (
            "postgresql://u@h/d?sslmode=require&password=pw",
            "postgresql://u@h/d?sslmode=require&password=***",
        ),
        (
            "postgres://h/d?sslpassword=k&oauth_client_secret=s",
            "postgres://h/d?sslpassword=***&oauth_client_secret=***",
        ),
        ("host=h password='a b\\' c' sslpassword=k\\ k", "host=h password=*** sslpassword=***"),
        ("host=h password='unterminated", "host=h password=***"),
        ("host=h password pw", "host=h password ***"),
        ("postgresql://u:pw@[::1/d", "postgresql://u:***@[::1/d"),
        (
            "postgresql://u@h/d?application_name=password",
            "postgresql://u@h/d?application_name=password",
        ),
    ],
)
def test_redact_masks_every_secret_parameter(url: str, shown: str) -> None:
    assert db.redact(url) == shown


def test_hide_secrets_masks_every_form_but_not_the_words_around() -> None:
    url = "postgresql://postgres:p%40ss@h/postgres?sslpassword=k3y"
    text = 'postgresql://postgres:p%40ss@h FATAL: "p@ss" or k3y for user "postgres"'
    assert (
        db.hide_secrets(text, url)
        == 'postgresql://postgres:***@h FATAL: "***" or *** for user "postgres"'
    )


def test_psql_refuses_secrets_it_cannot_hide() -> None:
    url = f"host=127.0.0.1 port=9 sslpassword={dsn_quote(FAKE)}"
    result = subprocess.run(
        [*EVALTOOL, "db", "psql", "-c", "SELECT 1"],
        env={**os.environ, "EVALTOOL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: evaltool db psql cannot hand sslpassword to psql without showing it to every "
        "user of this machine: put it in a service file (PGSERVICEFILE) and name the service "
        "in EVALTOOL_DATABASE_URL (service=NAME)\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_psql_keeps_the_password_off_every_command_line(
    form: str, pg_server: Server, db_url: str, password: str
) -> None:
    dbname = str(conninfo.conninfo_to_dict(db_url)["dbname"])
    url = with_password(form, password, pg_server.host, pg_server.port, pg_server.user, dbname)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALTOOL_", "PG"))}
    psql = subprocess.Popen(
        [
            *EVALTOOL,
            "db",
            "psql",
            "-tA",
            "-c",
            "SELECT pg_sleep(2)",
            "-c",
            "SELECT current_database()",
        ],
        env={**env, "EVALTOOL_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_psql = False
    deadline = time.monotonic() + 60
    try:
        while psql.poll() is None and time.monotonic() < deadline:
            for process in psutil.process_iter(["cmdline"]):
                argv = process.info["cmdline"] or []
                cmdline = " ".join(argv)
                assert leaked(cmdline, password) == [], f"pid {process.pid}: {cmdline}"
                # evaltool execs psql: the same process, now running psql
                seen_psql |= process.pid == psql.pid and bool(argv) and argv[0].endswith("psql")
            time.sleep(0.05)
        out, err = psql.communicate(timeout=60)
    finally:
        if psql.poll() is None:
            psql.kill()
            psql.communicate()
    assert seen_psql, "psql was never seen running"
    assert (psql.returncode, out.splitlines()[-1:]) == (0, [dbname]), err
    assert leaked(out + err, password) == []
