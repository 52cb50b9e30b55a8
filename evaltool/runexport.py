"""Export of a run: every response with its test case and scores, one record per line.

The rows stream from a server-side cursor in batches, so memory stays flat whatever the
size of the run; the scores are aggregated per response in SQL (query runs_export).
"""

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader

from evaltool import queries
from evaltool.errors import EvaltoolError
from evaltool.files import written_whole

# A column of the export: its name, and whether its values are JSON text.
Column = tuple[str, bool]

FORMATS = ("jsonl", "csv")
# File name endings and the format they mean; each may be followed by .gz.
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
# Rows fetched from the server-side cursor at a time.
BATCH = 2000
# Columns of type jsonb: their text (one line, valid JSON) is written as the database gives it.
JSONB = psycopg.adapters.types["jsonb"].oid
# A string as JSON text, as json.dumps(s, ensure_ascii=False) writes it (C-accelerated).
_json_string = json.encoder.encode_basestring
# A text cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_of(output: Path | None, given: str | None) -> tuple[str, bool]:
    """The format to write, jsonl or csv, and whether to gzip it.

    The format is `given` (--format), else the one OUTPUT's name ends with (.jsonl, .json,
    .ndjson or .csv, then .gz to compress), else JSON lines on standard output.
    """
    name = output.name.lower() if output is not None else ""
    compress = name.endswith(".gz")
    stem = name.removesuffix(".gz")
    found = next((fmt for ext, fmt in EXTENSIONS.items() if stem.endswith(ext)), None)
    if given is not None:
        return given, compress
    if output is None:
        return "jsonl", False
    if found is None:
        raise EvaltoolError(
            f"cannot tell the format of {output} from its name: end it with .jsonl or .csv "
            "(then .gz to compress), or give --format jsonl|csv"
        )
    return found, compress


def metrics(conn: psycopg.Connection, run_id: int) -> list[str]:
    """The metrics the run's responses have scores of, in name order; checks the run exists."""
    row = conn.execute(queries.get("runs_export_metrics"), {"run_id": run_id}).fetchone()
    if row is None:
        raise EvaltoolError(f"no run {run_id}: see evaltool runs list")
    return list(row[1])


def export(
    conn: psycopg.Connection, run_id: int, output: Path | None, fmt: str, compress: bool
) -> int:
    """Write the run's responses as `fmt` to standard output, or whole to the file `output`
    (gzip-compressed with `compress`); returns how many.

    The metric names (the CSV's score columns) and the rows are read in the connection's
    transaction: in REPEATABLE READ they share one snapshot.
    """
    names = metrics(conn, run_id)  # before the file: an unknown run leaves none
    if output is None:
        return _write(conn, run_id, names, fmt, sys.stdout)
    with written_whole(output, compress=compress) as handle:
        return _write(conn, run_id, names, fmt, handle)


def records(conn: psycopg.Connection, run_id: int) -> Iterator[dict[str, Any]]:
    """The run's responses as dicts (JSON decoded), streamed: what the Python API reads."""
    metrics(conn, run_id)  # an unknown run is an error, not nothing
    with conn.transaction(), conn.cursor(name="runs_records", row_factory=dict_row) as cur:
        cur.itersize = BATCH
        cur.execute(queries.get("runs_export"), {"run_id": run_id})
        yield from cur


def _write(conn: psycopg.Connection, run_id: int, names: list[str], fmt: str, out: TextIO) -> int:
    # A server-side cursor lives in a transaction: a savepoint in the caller's, if any.
    with conn.transaction(), conn.cursor(name="runs_export") as cur:
        cur.itersize = BATCH
        # jsonb values stay text: nothing to decode and encode again, and numbers beyond a
        # float keep every digit.
        cur.adapters.register_loader(JSONB, TextLoader)
        cur.execute(queries.get("runs_export"), {"run_id": run_id})
        assert cur.description is not None and cur.description[-1].name == "scores"
        columns = [(c.name, c.type_code == JSONB) for c in cur.description]
        if fmt == "csv":
            return write_csv(cur, columns, names, out)
        return write_jsonl(cur, columns, out)


def write_jsonl(rows: Iterable[Sequence[Any]], columns: list[Column], out: TextIO) -> int:
    """One JSON object per row and line, with the columns as its fields; returns how many.

    `columns` are (name, is_json) pairs: the text of a JSON column is its value as it is.
    """
    keys = [json.dumps(name) + ": " for name, _ in columns]
    kinds = [is_json for _, is_json in columns]
    count = 0
    for row in rows:
        fields = [
            key + (value if is_json and value is not None else _json(value))
            for key, is_json, value in zip(keys, kinds, row, strict=True)
        ]
        out.write("{" + ", ".join(fields) + "}\n")
        count += 1
    return count


def write_csv(
    rows: Iterable[Sequence[Any]], columns: list[Column], names: list[str], out: TextIO
) -> int:
    """A header, then one line per row: the columns but the last (the scores as JSON
    text), then `score.M` and `passed.M` for each metric M of `names`; returns how many
    rows.

    score.M is the value, or the verdict (true/false) of a pass/fail score without one;
    passed.M the verdict. JSON values are JSON text on one line; text that a spreadsheet
    would take for a formula starts with a single quote.
    """
    writer = csv.writer(out, lineterminator="\n")
    fields = [name for name, _ in columns[:-1]]
    kinds = [is_json for _, is_json in columns[:-1]]
    writer.writerow(fields + [f"{kind}.{m}" for m in names for kind in ("score", "passed")])
    count = 0
    for *values, scores_json in rows:
        cells = [
            # JSON text starts with { [ " a digit, t, f, n, or - for a negative number,
            # which a spreadsheet reads as that number: no formula, and it stays JSON.
            value if is_json and value is not None else _cell(value)
            for is_json, value in zip(kinds, values, strict=True)
        ]
        scores = json.loads(scores_json)
        for m in names:
            score = scores.get(m) or {}
            value, passed = score.get("value"), score.get("passed")
            cells += [_cell(passed if value is None else value), _cell(passed)]
        writer.writerow(cells)
        count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):  # tags
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return str(value)


def _json(value: Any) -> str:
    # What json.dumps(value, ensure_ascii=False) writes, without its cost per call.
    if value is None:
        return "null"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, datetime):
            return '"' + value.isoformat() + '"'
        if isinstance(value, Decimal):  # costs: exact, and a JSON number
            return str(value)
        return json.dumps(value, ensure_ascii=False)
    return repr(value)  # a finite number: the checks on the columns allow no others
