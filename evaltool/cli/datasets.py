"""`evaltool datasets`: list, inspect, export and delete datasets."""

import sys
from pathlib import Path

import click

from evaltool import datasets as ds
from evaltool import db
from evaltool.cli.output import echo_json, echo_table, json_option, output_option, write_lines
from evaltool.errors import EvaltoolError

project_option = click.option(
    "--project", default=None, help="Project of the dataset (default: default)."
)


@click.group()
def datasets() -> None:
    """List, inspect, export and delete datasets of test cases.

    \b
    Example:
        evaltool datasets list
        evaltool datasets export qa:2 -o qa-v2.jsonl
    """


@datasets.command(name="list")
@click.option("--project", default=None, help="Only this project's datasets.")
@click.option("--all", "show_all", is_flag=True, help="Include deleted datasets.")
@json_option
def list_(project: str | None, show_all: bool, as_json: bool) -> None:
    """List datasets with their number of test cases, newest first.

    \b
    Example:
        evaltool datasets list --project search --json
    """
    with db.connect() as conn:
        rows = ds.listing(conn, project, deleted=show_all)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no datasets yet: evaltool load prompts FILE --dataset NAME", err=True)
        return
    columns = ["project", "name", "version", "test_cases", "created_at", "created_by"]
    if show_all:
        columns.append("deleted_at")
    headers = {
        "test_cases": "test cases",
        "created_at": "created",
        "created_by": "by",
        "deleted_at": "deleted",
    }
    echo_table([headers.get(c, c) for c in columns], [[row[c] for c in columns] for row in rows])


@datasets.command()
@click.argument("dataset", metavar="NAME[:VERSION]")
@project_option
@json_option
def show(dataset: str, project: str | None, as_json: bool) -> None:
    """Show a dataset: test cases by origin, top tags, runs.

    \b
    Example:
        evaltool datasets show qa:2
    """
    with db.connect() as conn:
        found = ds.find(conn, ds.DatasetRef.parse(dataset, project), deleted=True)
        info = ds.summary(conn, found)
    if as_json:
        echo_json(info)
        return
    click.echo(f"dataset     {found.ref}")
    for key in ("description", "created_at", "created_by", "updated_at", "deleted_at"):
        if info[key] is not None:
            click.echo(f"{key.replace('_', ' '):<12}{info[key]}")
    click.echo(
        f"test cases  {info['test_cases']:,} ({info['with_expected']:,} with expected output)"
    )
    click.echo("origins     " + ", ".join(f"{k} {v:,}" for k, v in info["origins"].items()))
    if info["top_tags"]:
        click.echo("tags        " + ", ".join(f"{k} {v:,}" for k, v in info["top_tags"].items()))
    click.echo(f"runs        {info['runs']:,}")


@datasets.command()
@click.argument("dataset", metavar="NAME[:VERSION]")
@project_option
@output_option
def export(dataset: str, project: str | None, output: Path | None) -> None:
    """Write a dataset's test cases as evaltool JSON lines, which load back unchanged.

    \b
    Example:
        evaltool datasets export qa -o qa.jsonl
        evaltool load prompts qa.jsonl --dataset qa-copy
    """
    with db.connect() as conn:
        found = ds.find(conn, ds.DatasetRef.parse(dataset, project))
        count = write_lines(ds.export_lines(conn, found), output)
    if output:
        click.echo(f"wrote {count:,} test cases of {found.ref} to {output}", err=True)


@datasets.command()
@click.argument("dataset", metavar="NAME[:VERSION]")
@project_option
@click.option(
    "--hard", is_flag=True, help="Delete the rows for good (refused while runs use them)."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation of --hard.")
def delete(dataset: str, project: str | None, hard: bool, yes: bool) -> None:
    """Delete a dataset: hide it (soft), or with --hard remove it and its test cases.

    \b
    Example:
        evaltool datasets delete qa:1
        evaltool datasets delete scratch --hard --yes
    """
    ref = ds.DatasetRef.parse(dataset, project)
    if hard and not yes:
        if not sys.stdin.isatty():
            raise EvaltoolError("--hard deletes test cases for good: pass --yes to confirm")
        click.confirm(f"Delete dataset {ref} and its test cases for good?", abort=True)
    with db.connect() as conn:
        found = ds.find(conn, ref, deleted=hard)
        ds.delete(conn, found, hard=hard)
    click.echo(f"{'deleted' if hard else 'soft-deleted'} dataset {found.ref}")
