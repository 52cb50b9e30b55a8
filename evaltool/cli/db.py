"""`evaltool db`: the database server, the schema and its health."""

import json
import os
import sys

import click

from evaltool import config, embedded
from evaltool import db as database
from evaltool import migrate as migrations
from evaltool.cli.output import json_option
from evaltool.errors import CheckFailed, EvaltoolError


@click.group()
def db() -> None:
    """Manage the database: server, migrations, health.

    \b
    Example:
        evaltool db up        # start the embedded PostgreSQL
        evaltool db migrate   # apply migrations and sql/ definitions
        evaltool db health    # check it, e.g. in CI
    """


@db.command()
def up() -> None:
    """Start the embedded PostgreSQL, if it is not running, and print its URL.

    Other evaltool commands start it by themselves; use this to reach it with other
    tools. Nothing is started when EVALTOOL_DATABASE_URL is set.

    \b
    Example:
        evaltool db up
    """
    if config.database_url_from_env():
        click.echo(f"{config.DATABASE_URL_ENV} is set: evaltool uses that server and starts none.")
        return
    server = embedded.ensure_running()
    click.echo(f"embedded PostgreSQL running (pid {server.pid}), data in {server.data_dir}")
    click.echo(server.url)


@db.command()
def stop() -> None:
    """Stop the embedded PostgreSQL.

    \b
    Example:
        evaltool db stop
    """
    if embedded.stop():
        click.echo(f"embedded PostgreSQL stopped ({embedded.data_dir()})")
    else:
        click.echo("embedded PostgreSQL is not running")


@db.command()
def url() -> None:
    """Print the connection URL of evaltool's database (starting the embedded server).

    The URL is printed whole, password included, for programs that read it (a
    connection string in a script's environment); a password on another program's command
    line is visible to every user of the machine: for psql use `evaltool db psql`.

    \b
    Example:
        export DATABASE_URL="$(evaltool db url)"    # for a dashboard or a script
    """
    click.echo(database.database_url())


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql(psql_args: tuple[str, ...]) -> None:
    """Open psql on evaltool's database; extra arguments go to psql.

    The password reaches psql as $PGPASSWORD, never on its command line, where every user
    of the machine could read it.

    \b
    Example:
        evaltool db psql
        evaltool db psql -c 'SELECT * FROM evaltool.run'
    """
    dsn, secrets = database.without_secrets(database.database_url())
    environment = dict(os.environ)
    if "password" in secrets:
        environment["PGPASSWORD"] = secrets.pop("password")
    if secrets:
        raise EvaltoolError(
            f"evaltool db psql cannot hand {' and '.join(secrets)} to psql without showing it "
            f"to every user of this machine: put it in a service file (PGSERVICEFILE) and name "
            f"the service in {config.DATABASE_URL_ENV} (service=NAME)"
        )
    client = str(embedded.psql_path())
    sys.stdout.flush()
    os.execve(client, [client, dsn, *psql_args], environment)


@db.command()
def migrate() -> None:
    """Apply pending migrations, then re-apply sql/ (functions, triggers, views, grants).

    Safe to run again: with nothing pending it changes nothing.

    \b
    Example:
        evaltool db migrate
    """
    applied = migrations.migrate()
    for migration_id in applied:
        click.echo(f"applied {migration_id}")
    with database.connect() as conn:
        version = migrations.status(conn).version
    if not applied:
        click.echo(f"schema up to date at {version}")


@db.command()
@click.option(
    "--steps",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many migrations to undo, newest first.",
)
@click.option("--all", "undo_all", is_flag=True, help="Undo every migration.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rollback(steps: int, undo_all: bool, yes: bool) -> None:
    """Undo the last migration (or --steps N, or --all).

    A rollback drops what the migration created, data included: it asks first, unless
    --yes is given.

    \b
    Example:
        evaltool db rollback --yes
    """
    count = sys.maxsize if undo_all else steps
    if not yes:
        if not sys.stdin.isatty():
            raise EvaltoolError("rollback drops data: pass --yes to confirm")
        what = "every migration" if undo_all else f"the last {steps} migration(s)"
        click.confirm(f"Undo {what}, dropping their tables and data?", abort=True)
    undone = migrations.rollback(count=count)
    for migration_id in undone:
        click.echo(f"rolled back {migration_id}")
    if not undone:
        click.echo("nothing to roll back")


@db.command()
@json_option
def status(as_json: bool) -> None:
    """Show the server in use and the applied and pending migrations.

    \b
    Example:
        evaltool db status
        evaltool db status --json
    """
    server = _server_description()
    report: dict[str, object] = {"server": server}
    if server.get("running", True):
        with database.connect() as conn:
            state = migrations.status(conn)
        report["applied"] = [{"id": mid, "applied_at": at} for mid, at in state.applied]
        report["pending"] = state.pending
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"server      {_server_line(server)}")
    if "applied" not in report:
        click.echo("migrations  unknown while the server is stopped (evaltool db up)")
        return
    for mid, at in state.applied:
        click.echo(f"applied     {mid}  {at}")
    for mid in state.pending:
        click.echo(f"pending     {mid}")
    if not state.applied and not state.pending:
        click.echo("migrations  none found")


@db.command()
@json_option
def health(as_json: bool) -> None:
    """Check the database: server version, schema version and rows per table.

    Exits 1 when migrations are pending and 2 when the database cannot be reached, with a
    one-line reason, so it can gate CI jobs and deployments.

    \b
    Example:
        evaltool db health
        evaltool db health --json | jq .tables
    """
    with database.connect() as conn:
        info = migrations.server_info(conn)
        state = migrations.status(conn)
        tables = migrations.row_counts(conn) if state.applied else {}
    server_version, _, dbname, db_user = info
    if as_json:
        click.echo(
            json.dumps(
                {
                    "server_version": server_version,
                    "database": dbname,
                    "user": db_user,
                    "schema_version": state.version,
                    "pending": state.pending,
                    "tables": tables,
                    "ok": not state.pending,
                },
                indent=2,
            )
        )
    else:
        click.echo(f"server      PostgreSQL {server_version}")
        click.echo(f"database    {dbname} (as {db_user})")
        click.echo(f"schema      {state.version or 'not migrated'}")
        if tables:
            width = max(len(name) for name in tables)
            click.echo("rows")
            for name, count in tables.items():
                click.echo(f"  {name:<{width}}  {count:>12,}")
    if state.pending:
        raise CheckFailed(
            f"{len(state.pending)} migration(s) pending ({', '.join(state.pending)}): "
            "run evaltool db migrate"
        )


def _server_description() -> dict[str, object]:
    external = config.database_url_from_env()
    if external:
        return {"kind": "external", "url": database.redact(external)}
    state = embedded.state()
    if state is None:
        return {"kind": "embedded", "running": False, "data_dir": str(embedded.data_dir())}
    return {
        "kind": "embedded",
        "running": True,
        "pid": state.pid,
        "data_dir": str(state.data_dir),
        "url": state.url,
    }


def _server_line(server: dict[str, object]) -> str:
    if server["kind"] == "external":
        return f"{server['url']} (from {config.DATABASE_URL_ENV})"
    if not server["running"]:
        return f"embedded, stopped, data in {server['data_dir']}"
    return f"embedded, running (pid {server['pid']}), data in {server['data_dir']}"
