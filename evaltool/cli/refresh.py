"""`evaltool refresh`: bring the aggregates up to date, now or on a schedule."""

import os

import click

from evaltool import db
from evaltool import refresh as refreshing
from evaltool.cli.output import echo_json, echo_table, json_option


@click.command(name="refresh")
@click.option(
    "--schedule",
    metavar="CRON",
    help="Refresh on this cron schedule instead: a pg_cron job where the server has pg_cron, "
    "otherwise the crontab line and systemd timer to install are printed.",
)
@click.option(
    "--blocking",
    is_flag=True,
    help="Refresh materialized views without CONCURRENTLY: faster, but readers wait until it "
    "is done. (Recomputing run_metric_stats never blocks readers.)",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success (for cron).")
@json_option
def refresh(schedule: str | None, blocking: bool, quiet: bool, as_json: bool) -> None:
    """Recompute the runs whose statistics are stale, and refresh materialized views.

    evaltool.run_metric_stats is recomputed for a run when the transaction that changed
    its scores commits (and for the runs of an upgraded database by `evaltool db migrate`),
    so refresh finds only runs left stale by writes made with triggers off, and costs time
    in proportion to them, not to the history.
    Materialized views are refreshed CONCURRENTLY, so psql users and reports keep reading
    while it works. Each step is recorded in evaltool.refresh_log (when, how long, rows:
    runs recomputed or the view's rows, by whom).

    \b
    Example:
        evaltool refresh
        evaltool refresh --schedule '*/15 * * * *'   # every 15 minutes
        psql -c 'SELECT * FROM evaltool.refresh_log ORDER BY id DESC LIMIT 5'
    """
    if schedule:
        _schedule(schedule)
        return
    with db.connect() as conn:
        rows = refreshing.refresh(conn, concurrent=not blocking)
    if as_json:
        echo_json(rows)
    elif not quiet:
        echo_table(
            ["view", "rows", "seconds"],
            [[r["view_name"], r["rows"], round(r["seconds"], 3)] for r in rows],
        )


def _schedule(schedule: str) -> None:
    refreshing.check_schedule(schedule)
    with db.connect() as conn:
        job = refreshing.schedule_pg_cron(conn, schedule)
    if job is not None:
        click.echo(
            f"pg_cron job {job} (evaltool-refresh) runs evaltool.refresh_aggregates() "
            f"on '{schedule}'; see SELECT * FROM cron.job_run_details"
        )
        return
    # Only where the user chose the database by URL does the job need it; a password in it
    # belongs in ~/.pgpass, not in a crontab.
    environment = {
        k: os.environ[k] for k in ("EVALTOOL_DATABASE_URL", "EVALTOOL_HOME") if k in os.environ
    }
    if "EVALTOOL_DATABASE_URL" in environment:
        environment["EVALTOOL_DATABASE_URL"] = db.redact(environment["EVALTOOL_DATABASE_URL"])
    click.echo("This server has no pg_cron. Schedule the refresh with cron (crontab -e):\n")
    click.echo(refreshing.crontab_line(schedule, environment))
    click.echo("\nor with a systemd timer (then: systemctl enable --now evaltool-refresh.timer):\n")
    click.echo(refreshing.systemd_units(schedule, environment))
