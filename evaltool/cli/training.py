"""`evaltool training`: export, list, show, delete and restore training examples."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import psycopg

from evaltool import db, display
from evaltool import training as tr
from evaltool.cli import types
from evaltool.cli.output import echo_json, echo_table, json_option
from evaltool.errors import EvaltoolError

project_option = click.option(
    "--project",
    type=types.NAME,
    default="default",
    show_default=True,
    help="Project of the training examples.",
)
source_option = click.option(
    "--source",
    "sources",
    type=types.NAME,
    multiple=True,
    help="Only examples of this data_source (repeatable).",
)


@click.group(name="training")
def training_group() -> None:
    """Export, inspect and soft-delete the training examples of evaltool load training.

    \b
    Example:
        evaltool training list
        evaltool training export --split train=0.9,val=0.1 -o finetune/
        evaltool training delete --source synthetic --max-priority 50 --dry-run
    """


@training_group.command()
@project_option
@source_option
@click.option(
    "--min-priority", type=click.IntRange(1, 1000), help="Only examples of this priority or more."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(tr.FORMATS),
    default="prompt-completion",
    show_default=True,
    help="Lines of prompt and completion, or OpenAI chat messages.",
)
@click.option(
    "--split",
    "split_text",
    type=types.TEXT,
    metavar="NAME=FRACTION,...",
    help="Split the examples into DIR/NAME.jsonl files, e.g. train=0.9,val=0.1.",
)
@click.option(
    "--seed",
    type=types.count(0),
    help="Seed of the split: another seed, other splits (default: 0).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, allow_dash=True),
    help="File to write (default: standard output); with --split, a directory.",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary on standard error.")
@json_option
def export(
    project: str,
    sources: tuple[str, ...],
    min_priority: int | None,
    fmt: str,
    split_text: str | None,
    seed: int | None,
    output: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Write the active training examples as JSON lines for fine-tuning.

    Highest priority first; soft-deleted ones are left out.

    \b
    Formats:
      prompt-completion  {"prompt", "completion", "priority", "data_source", "metadata"}:
                         prompt and completion as stored (any JSON); metadata only when
                         not empty. With the fields after completion, evaltool load
                         training reads the file back to the same examples; a tool that
                         refuses them gets jq -c '{prompt, completion}' of the file.
      chat               OpenAI's {"messages": [{"role": "user", ...},
                         {"role": "assistant", ...}]}. A prompt that is a list of
                         messages (objects with a "role") gives those messages; a prompt
                         or completion that is not a JSON string becomes its JSON text
                         as content.

    \b
    --split NAME=FRACTION,... (fractions summing to 1) writes DIR/NAME.jsonl for each
    split, each file whole or not at all. An example's split depends only on its
    example_hash (the SHA-256 of [prompt, completion]) and --seed: the first 8 bytes of
    sha256(seed as 8 big-endian bytes || example_hash), read as an unsigned number and
    divided by 2^64, give a point in [0, 1) that falls in one split's share of it, in
    the order given (train=0.9,val=0.1: below 0.9 is train). So an example stays in
    its split when more examples are loaded.

    \b
    Example:
        evaltool training export -o train.jsonl
        evaltool training export --format chat --min-priority 200 --source synthetic
        evaltool training export --split train=0.9,val=0.1 --seed 7 -o finetune/
    """
    if output is not None and str(output) == "-":
        output = None
    splits = tr.parse_splits(split_text) if split_text is not None else []
    _check_output(splits, seed, output, as_json)
    filters = tr.Filters(sources=sources, min_priority=min_priority)
    with db.connect() as conn:
        # The check that something matches and the rows: one snapshot.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        counts = tr.export(
            conn,
            project,
            fmt=fmt,
            filters=filters,
            splits=splits,
            seed=seed or 0,
            output=output,
        )
    total = sum(counts.values())
    if as_json:
        info: dict[str, object] = {"project": project, "format": fmt, "examples": total}
        if splits:
            info["seed"] = seed or 0
            info["splits"] = {
                name: {"path": str(output / f"{name}.jsonl") if output else None, "examples": n}
                for name, n in counts.items()
            }
        else:
            info["path"] = str(output)
        echo_json(info)
    elif not quiet:
        where = f" to {output}" if output is not None else ""
        parts = "" if not splits else ": " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        click.echo(
            f"wrote {total:,} training examples of project {project}{parts}{where}", err=True
        )


def _check_output(
    splits: list[tr.Split], seed: int | None, output: Path | None, as_json: bool
) -> None:
    """Refuse an -o that does not fit --split, before the database is asked anything."""
    if splits:
        if output is None:
            raise EvaltoolError("--split writes a file per split: give -o DIR")
        if output.exists() and not output.is_dir():
            raise EvaltoolError(f"--split writes a file per split: -o {output} must be a directory")
    else:
        if seed is not None:
            raise EvaltoolError("--seed is the seed of --split: give --split too")
        if output is not None and output.is_dir():
            raise EvaltoolError(f"-o {output} is a directory: name a file, or give --split")
    if as_json and output is None:
        raise EvaltoolError("--json prints the summary on standard output: write to -o FILE")


@training_group.command(name="list")
@click.option("--project", type=types.NAME, default=None, help="Only this project's examples.")
@json_option
def list_(project: str | None, as_json: bool) -> None:
    """List training examples per project and data source.

    Active and soft-deleted counts, the priorities of the active ones, and when the
    last was loaded.

    \b
    Example:
        evaltool training list --project search --json
    """
    with db.connect() as conn:
        rows = tr.listing(conn, project)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no training examples yet: evaltool load training FILE", err=True)
        return
    echo_table(
        ["project", "source", "active", "deleted", "priority", "last loaded"],
        [
            [
                r["project"],
                r["data_source"],
                r["active"],
                r["deleted"],
                _range(r["min_priority"], r["max_priority"]),
                r["last_loaded"],
            ]
            for r in rows
        ],
    )


def _range(low: int | None, high: int | None) -> str:
    if low is None or high is None:
        return ""
    return str(low) if low == high else f"{low}-{high}"


@training_group.command()
@project_option
@json_option
def show(project: str, as_json: bool) -> None:
    """Show a project's training examples.

    Counts, batches, and the active ones per data source and per priority band.

    \b
    Example:
        evaltool training show --project search
    """
    with db.connect() as conn:
        info = tr.summary(conn, project)
    if as_json:
        echo_json(info)
        return
    click.echo(f"project     {project}")
    click.echo(f"examples    {info['active']:,} active, {info['deleted']:,} soft-deleted")
    click.echo(f"batches     {info['batches']:,}")
    if info["first_loaded"] is not None:
        click.echo(
            f"loaded      {display.when(info['first_loaded'])} to "
            f"{display.when(info['last_loaded'])}"
        )
    if info["sources"]:
        click.echo("sources     " + ", ".join(f"{k} {v:,}" for k, v in info["sources"].items()))
    if info["priorities"]:
        click.echo("priorities  " + ", ".join(f"{k} {v:,}" for k, v in info["priorities"].items()))


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose the examples of delete and restore."""
    for option in reversed(
        [
            project_option,
            source_option,
            click.option(
                "--batch",
                type=types.TEXT,
                metavar="FILE",
                help="Only examples loaded from this batch file, named as when it was loaded.",
            ),
            click.option(
                "--max-priority",
                type=click.IntRange(1, 1000),
                help="Only examples of this priority or less.",
            ),
            click.option(
                "--dry-run", is_flag=True, help="Only count the examples it would change."
            ),
        ]
    ):
        command = option(command)
    return command


@training_group.command()
@_filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(
    project: str,
    sources: tuple[str, ...],
    batch: str | None,
    max_priority: int | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Soft-delete training examples; training restore brings them back.

    Exports leave them out. Without a filter, every example of the project.

    \b
    Example:
        evaltool training delete --source synthetic --max-priority 50 --dry-run
        evaltool training delete --batch batches/2026-01-03.jsonl --yes
    """
    filters = tr.Filters(sources=sources, max_priority=max_priority, batch=batch)
    with db.connect() as conn:
        what = _matching(conn, project, filters, deleted=False)
        if dry_run:
            click.echo(f"would soft-delete {what}")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise EvaltoolError(f"this soft-deletes {what}: pass --yes to confirm")
            click.confirm(f"Soft-delete {what}?", abort=True)
        done = tr.soft_delete(conn, project, filters)
    click.echo(
        f"soft-deleted {done:,} training examples of project {project} "
        "(evaltool training restore brings them back)"
    )


@training_group.command()
@_filter_options
def restore(
    project: str,
    sources: tuple[str, ...],
    batch: str | None,
    max_priority: int | None,
    dry_run: bool,
) -> None:
    """Undo the soft delete of the training examples that match the filters.

    Without a filter, of every example of the project.

    \b
    Example:
        evaltool training restore --source synthetic --dry-run
        evaltool training restore --batch batches/2026-01-03.jsonl
    """
    filters = tr.Filters(sources=sources, max_priority=max_priority, batch=batch)
    with db.connect() as conn:
        what = _matching(conn, project, filters, deleted=True)
        if dry_run:
            click.echo(f"would restore {what}")
            return
        done = tr.soft_delete(conn, project, filters, restore=True)
    click.echo(f"restored {done:,} training examples of project {project}")


def _matching(conn: psycopg.Connection, project: str, filters: tr.Filters, *, deleted: bool) -> str:
    """How many examples delete (or restore, `deleted`) would change, in words; none is
    an error (a mistyped --source or --batch)."""
    found = tr.count(conn, project, filters, deleted=deleted)
    if not found:
        state = "soft-deleted" if deleted else "active"
        raise EvaltoolError(
            f"no {state} training examples of project {project} match: see evaltool training list"
        )
    return f"{found:,} training examples of project {project}"
