"""`evaltool projects`: list projects, and set the monthly budget their runs may spend."""

from decimal import Decimal

import click

from evaltool import db, display, queries
from evaltool.cli import types
from evaltool.cli.output import echo_json, echo_table, json_option
from evaltool.errors import EvaltoolError


@click.group(name="projects")
def projects_group() -> None:
    """List projects and set their monthly budgets.

    \b
    Example:
        evaltool projects list
        evaltool projects budget search --monthly 200
    """


@projects_group.command(name="list")
@json_option
def list_(as_json: bool) -> None:
    """List projects with their datasets, runs, this month's cost and budget.

    \b
    Example:
        evaltool projects list --json
    """
    with db.connect() as conn:
        rows = queries.fetch_all(conn, "project_list", {"project": None})
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ["project", "datasets", "runs", "cost this month", "monthly budget"],
        [
            [
                r["project"],
                r["datasets"],
                r["runs"],
                display.cost(r["month_cost_usd"]),
                display.cost(r["monthly_budget_usd"]) if r["monthly_budget_usd"] else "none",
            ]
            for r in rows
        ],
    )


@projects_group.command()
@click.argument("project", type=types.NAME)
@click.option(
    "--monthly",
    type=click.FloatRange(0, 1e12, min_open=True),
    metavar="USD",
    help="Most the project's model calls may cost in a calendar month.",
)
@click.option("--none", "remove", is_flag=True, help="Remove the project's budget.")
@json_option
def budget(project: str, monthly: float | None, remove: bool, as_json: bool) -> None:
    """Set the monthly budget of a project's runs.

    Workers of the project's runs check this month's spend (from the cost ledger) before
    they claim work; once it reaches the budget they claim no more, and the runs stop as
    budget_exceeded (exit 1) until resumed after the budget is raised.

    \b
    Example:
        evaltool projects budget search --monthly 200
        evaltool projects budget search --none
    """
    if (monthly is None) == (not remove):
        raise click.UsageError("give --monthly USD, or --none")
    amount = None if remove else Decimal(str(monthly)).quantize(Decimal("0.01"))
    with db.connect() as conn:
        changed = conn.execute(
            queries.get("project_budget"), {"project": project, "budget": amount}
        ).fetchone()
        if changed is None:
            names = [name for (name,) in conn.execute(queries.get("project_names"))]
            raise EvaltoolError(f"no project {project}: the projects are {', '.join(names)}")
        [row] = queries.fetch_all(conn, "project_list", {"project": project})
    if as_json:
        echo_json(row)
        return
    spent = display.cost(row["month_cost_usd"])
    if amount is None:
        click.echo(f"project {project}: no monthly budget; {spent} spent this month")
    else:
        click.echo(
            f"project {project}: monthly budget {display.cost(amount)}; {spent} spent this month"
        )
