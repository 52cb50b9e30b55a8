"""Output helpers shared by the command groups: aligned tables, JSON, common options."""

import functools
import json
import sys
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import click

from evaltool import display
from evaltool.cli import types
from evaltool.compare import Policy, parse_margins
from evaltool.files import written_whole

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress display.")
worst_option = click.option(
    "--worst",
    type=types.count(0),
    default=10,
    show_default=True,
    help="Longest list of test cases to show (regressed per metric, errors); the rest are counted.",
)


def renamed(new_value: Any, old_value: Any, old: str, new: str) -> Any:
    """The value of an option given under its old spelling `old` (kept, hidden, so that
    scripts keep working), with a note on stderr; else the value under `new`."""
    if old_value is None or old_value is False:
        return new_value
    click.echo(f"note: {old} is deprecated, use {new}", err=True)
    return new_value if new_value not in (None, False) else old_value


# The options of a comparison, shared by `compare` and `report compare`: the command gets
# `metrics`, `policy` (a compare.Policy) and `fail_on_regression`.
_COMPARISON_OPTIONS = [
    click.option(
        "--metric", "metrics", type=types.TEXT, multiple=True, help="Only this metric (repeatable)."
    ),
    click.option(
        "--alpha",
        type=types.FiniteFloat(0, 1, min_open=True, max_open=True),
        default=0.05,
        show_default=True,
        help="Error rate of the whole gate: 1 - alpha is the confidence of the intervals.",
    ),
    click.option(
        "--missing",
        type=click.Choice(["worst", "ignore"]),
        default="worst",
        show_default=True,
        help="A test case the baseline has and the candidate lacks (not answered, an error, "
        "not scored): worst counts it as a failure or the metric's worst value; ignore "
        "pairs only what both have.",
    ),
    click.option(
        "--correction",
        type=click.Choice(["holm", "bh", "none"]),
        default="holm",
        show_default=True,
        help="Adjustment for testing many metrics and slices at once.",
    ),
    click.option(
        "--margin",
        "margins",
        type=types.TEXT,
        multiple=True,
        metavar="[METRIC=]M",
        help="Non-inferiority margin: the gate passes only if the interval's lower end is "
        "above -M. One for every metric, or per metric (repeatable).",
    ),
    click.option(
        "--by",
        type=types.TEXT,
        metavar="tag|metadata.KEY",
        help="A verdict per slice of test cases too: per tag, or per value of a metadata key.",
    ),
    click.option(
        "--cluster",
        type=types.TEXT,
        metavar="metadata.KEY",
        help="Test cases sharing this metadata value are not independent (questions on one "
        "document): the tests and intervals treat each cluster as one unit.",
    ),
    click.option(
        "--fail-on-regression",
        is_flag=True,
        help="A CI gate: exit 1 when a row is worse (with a margin: not shown within it), "
        "2 when a row has no paired data.",
    ),
]


def comparison_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the comparison options to a command, handing it their Policy."""

    @functools.wraps(command)
    def with_policy(
        *args: Any,
        alpha: float,
        missing: str,
        correction: str,
        margins: tuple[str, ...],
        by: str | None,
        cluster: str | None,
        **kwargs: Any,
    ) -> Any:
        policy = Policy(alpha, missing, correction, parse_margins(margins), by, cluster)
        return command(*args, policy=policy, **kwargs)

    for option in reversed(_COMPARISON_OPTIONS):
        with_policy = option(with_policy)
    return with_policy


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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"  # a table's column: the zone is the session's
    if isinstance(value, int):
        return display.count(value)
    return str(value)


def _default(value: Any) -> str | float:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # prices and costs: numbers for scripts
        return float(value)
    if isinstance(value, timedelta):  # durations: seconds
        return value.total_seconds()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
