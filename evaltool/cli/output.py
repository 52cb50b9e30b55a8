"""Output helpers shared by the command groups: aligned tables, JSON, common options."""

import json
import sys
from collections.abc import Generator, Iterable, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import click

from evaltool.files import written_whole

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")

# The options of a comparison, shared by `compare` and `report compare`.
metrics_option = click.option(
    "--metric", "metrics", multiple=True, help="Only this metric (repeatable)."
)
alpha_option = click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level of the verdicts.",
)
fail_on_regression_option = click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when a (chosen) metric regressed significantly: a CI gate.",
)


output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)


def write_lines(lines: Generator[str, None, None], output: Path | None) -> int:
    """Write lines to standard output, or whole to the file `output`; returns how many.

    The generator is closed whatever happens (a reader that went away, a full disk), so
    that a COPY it streams from ends before its connection is released.
    """
    with closing(lines):
        if output is None:
            return _write_lines(lines, sys.stdout)
        with written_whole(output) as handle:
            return _write_lines(lines, handle)


def _write_lines(lines: Iterable[str], out: TextIO) -> int:
    count = 0
    for line in lines:
        out.write(line + "\n")
        count += 1
    return count


def echo_json(value: Any) -> None:
    """Print a value as indented JSON; timestamps as ISO 8601."""
    click.echo(json.dumps(value, indent=2, default=_default, ensure_ascii=False))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as aligned columns under a header; numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    click.echo(line(headers))
    for row in cells:
        click.echo(line(row))


def number_text(value: float | None, digits: int = 3) -> str:
    """A statistic for a table: fixed digits, empty when there is none."""
    return "" if value is None else f"{value:.{digits}f}"


def cost_text(value: Decimal | None) -> str:
    """A cost in USD, or why there is none."""
    return "no price set" if value is None else f"${value:,.6f}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _default(value: Any) -> str | float:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # prices and costs: numbers for scripts
        return float(value)
    if isinstance(value, timedelta):  # durations: seconds
        return value.total_seconds()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
