"""The formats `evaltool load` reads: containers (JSON Lines, JSON documents, CSV) and,
for test cases, the line formats of other tools.

JSON Lines formats of test cases are reshaped into evaltool's own by SQL views
(queries/load.sql); CSV is read here, one JSON document per row, since its columns are
only known at run time.
"""

import csv
import io
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from evaltool.load import documents
from evaltool.load.records import (
    FieldMap,
    Records,
    dumps,
    is_json_document,
    json_document,
    json_lines,
)
from evaltool.load.sources import InputError, Source, unreadable
from evaltool.load.stage import Problem, Record

# --format name -> the SQL view that reshapes staged lines of test cases
JSONL_FORMATS = {
    "evaltool": "docs_native",
    "openai-evals": "docs_openai_evals",
    "chat": "docs_chat",
    "inspect": "docs_inspect",
    "lm-eval": "docs_lm_eval",
}
# Containers every load reads: by file name unless --format names one.
CONTAINERS = ["jsonl", "json", "csv"]
FORMATS = ["auto", *JSONL_FORMATS, *CONTAINERS]
# What a line of each test case format has that the others do not (the native format:
# "input" and none of these).
_SIGNATURES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "chat": lambda doc: "messages" in doc and "input" not in doc,
    "openai-evals": lambda doc: "ideal" in doc,
    "inspect": lambda doc: "target" in doc and "input" in doc,
    "lm-eval": lambda doc: "doc" in doc and bool({"doc_id", "resps", "filtered_resps"} & set(doc)),
}
# The largest CSV cell: Python's csv module stops at 128 KiB, which a long document as a
# test case's input passes; a jsonb value holds up to about 255 MB.
MAX_CSV_CELL = 256 << 20
PROMPT_FIELDS = ("id", "input", "expected", "tags", "metadata", "origin", "is_verified")
_TAG_SPLIT = re.compile(r"[;,]")
CsvDoc = Callable[[dict[str, str]], Any]
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def detect(first_doc: Any, where: str) -> str:
    """The format of test case lines, from the first one; asks for --format rather than
    choose between two that fit."""
    if not isinstance(first_doc, dict):
        return "evaltool"
    fits = [name for name, fits in _SIGNATURES.items() if fits(first_doc)]
    if len(fits) > 1:
        raise InputError(
            f"{where}: the line fits the {' and the '.join(fits)} formats: give --format"
        )
    return fits[0] if fits else "evaltool"


def container(source: Source, fmt: str) -> str:
    """jsonl, json or csv: as --format says, else by the file's name."""
    if fmt in CONTAINERS:
        return fmt
    if is_csv(source):
        return "csv"
    return "json" if is_json_document(source) else "jsonl"


def is_csv(source: Source) -> bool:
    """Whether a file is named like CSV."""
    return source.name.endswith((".csv", ".csv.gz"))


def reader(
    sources: Sequence[Source],
    fmt: str,
    field_map: FieldMap,
    csv_doc: CsvDoc | None = None,
) -> Records | None:
    """How the inputs are read: None for the COPY fast path (JSON Lines as they are), or
    records reshaped in Python (CSV rows, JSON documents, --map). `csv_doc` makes a
    record of a CSV row (default: the row after --map, all text)."""
    kinds = {container(source, fmt) for source in sources}
    if kinds == {"jsonl"} and not field_map:
        return None

    def records(source: Source) -> Iterator[Record]:
        kind = container(source, fmt)
        if kind == "csv":
            for line, row in csv_rows(source):
                try:
                    yield line, dumps(csv_doc(row) if csv_doc else field_map.apply(row))
                except documents.JsonProblem as exc:
                    yield line, Problem(str(exc), b"")
        elif kind == "json":
            yield from json_document(source, field_map.apply)
        else:
            yield from json_lines(source, field_map.apply)

    return records


def typed_csv(
    field_map: FieldMap,
    numbers: Sequence[str] = (),
    flags: Sequence[str] = (),
    objects: Sequence[str] = (),
) -> CsvDoc:
    """CSV rows of a load whose fields are typed: after --map, cells of `numbers` that
    read as numbers become numbers, of `flags` true/false/yes/no/1/0 booleans, of
    `objects` JSON; a cell that does not read so stays text, for the load's checks to name.
    Empty cells are left out."""

    def doc(row: dict[str, str]) -> Any:
        out = field_map.apply({k: v for k, v in row.items() if v != ""})
        for name, value in out.items():
            if isinstance(value, str):
                if name in numbers:
                    out[name] = _number(value)
                elif name in flags:
                    out[name] = _FLAGS.get(value.strip().lower(), value)
                elif name in objects:
                    out[name] = _json(value)
        return out

    return doc


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _json(text: str) -> Any:
    try:
        return documents.loads(text)
    except documents.JsonProblem:
        return text  # refused by the load's checks, with its line


def csv_rows(source: Source) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) for each CSV row after the header."""
    text = io.TextIOWrapper(source.open(), encoding="utf-8-sig", newline="")
    csv.field_size_limit(MAX_CSV_CELL)
    reader = csv.DictReader(text)
    line = 2
    try:
        if reader.fieldnames is None:
            raise InputError(f"{source.name}:1: no header row", source.name, 1)
        for row in reader:
            if None in row:
                raise InputError(
                    f"{source.name}:{line}: more cells than header columns", source.name, line
                )
            yield line, {k: v for k, v in row.items() if k is not None and v is not None}
            line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        line = reader.line_num + 1
        raise InputError(f"{source.name}:{line}: invalid UTF-8", source.name, line) from exc
    except csv.Error as exc:
        line = reader.line_num
        raise InputError(f"{source.name}:{line}: invalid CSV: {exc}", source.name, line) from exc
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip file
        raise InputError(f"{source.name}: {unreadable(exc)}", source.name) from exc
    finally:
        if source.path is not None:
            text.close()
        else:
            text.detach()  # standard input stays open


def prompt_csv(field_map: FieldMap) -> CsvDoc:
    """Test cases from CSV rows. Known columns (id, input, expected, tags, metadata,
    origin, is_verified, after --map) become fields; the others go into metadata. Tags are
    split on commas or semicolons; empty cells are left out."""
    return lambda row: _csv_doc(row, field_map.pairs)


def _csv_doc(row: dict[str, str], mapping: Mapping[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for column, value in row.items():
        if value == "":
            continue
        field = mapping.get(column, column)
        if field == "tags":
            doc["tags"] = [tag.strip() for tag in _TAG_SPLIT.split(value) if tag.strip()]
        elif field == "is_verified":
            doc["is_verified"] = _FLAGS.get(value.strip().lower(), value)
        elif field == "metadata":
            doc["metadata"] = _json(value)  # not an object: refused by the checks, with its line
        elif field in PROMPT_FIELDS:
            doc[field] = value
        else:
            extra[field] = value
    if extra:
        doc["metadata"] = {
            **extra,
            **(doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}),
        }
    return doc
