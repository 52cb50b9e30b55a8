"""Line formats that `evaltool load prompts` understands, and CSV conversion.

JSON Lines formats are reshaped into evaltool's own by SQL views (queries/load.sql);
CSV is read here, one JSON document per row, since its columns are only known at run time.
"""

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from evaltool.errors import EvaltoolError
from evaltool.load.sources import InputError, Source

# --format name -> the SQL view that reshapes staged lines
JSONL_FORMATS = {
    "evaltool": "docs_native",
    "openai-evals": "docs_openai_evals",
    "chat": "docs_chat",
    "inspect": "docs_inspect",
}
FORMATS = ["auto", *JSONL_FORMATS, "csv"]
# The largest CSV cell: Python's csv module stops at 128 KiB, which a long document as a
# test case's input passes; a jsonb value holds up to about 255 MB.
MAX_CSV_CELL = 256 << 20
PROMPT_FIELDS = ("id", "input", "expected", "tags", "metadata", "origin", "is_verified")
_TAG_SPLIT = re.compile(r"[;,]")


def detect(first_doc: Any) -> str:
    """The JSON Lines format of a file, from its first document."""
    if isinstance(first_doc, dict):
        if "messages" in first_doc and "input" not in first_doc:
            return "chat"
        if "ideal" in first_doc:
            return "openai-evals"
        if "target" in first_doc:
            return "inspect"
    return "evaltool"


def is_csv(source: Source) -> bool:
    """Whether a file is named like CSV."""
    return source.name.endswith((".csv", ".csv.gz"))


def parse_map(pairs: tuple[str, ...]) -> dict[str, str]:
    """--map COLUMN=FIELD options as {column: field}."""
    mapping = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column or not target:
            raise EvaltoolError(f"--map {pair!r}: expected COLUMN=FIELD, e.g. question=input")
        mapping[column] = target
    return mapping


def csv_records(source: Source, mapping: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """(line, JSON document) for each CSV row. Known columns (id, input, expected, tags,
    metadata, origin, is_verified, after --map) become fields; the others go into metadata.
    Tags are split on commas or semicolons; empty cells are left out."""
    text = io.TextIOWrapper(source.open(), encoding="utf-8-sig", newline="")
    csv.field_size_limit(MAX_CSV_CELL)
    reader = csv.DictReader(text)
    line = 2
    try:
        if reader.fieldnames is None:
            raise InputError(f"{source.name}:1: no header row")
        for row in reader:
            yield line, json.dumps(_csv_doc(row, mapping, source, line), ensure_ascii=False)
            line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise InputError(f"{source.name}:{reader.line_num + 1}: invalid UTF-8") from exc
    except csv.Error as exc:
        raise InputError(f"{source.name}:{reader.line_num}: invalid CSV: {exc}") from exc
    finally:
        if source.path is not None:
            text.close()


def _csv_doc(
    row: dict[str | None, Any], mapping: Mapping[str, str], source: Source, line: int
) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for column, value in row.items():
        if column is None:
            raise InputError(f"{source.name}:{line}: more cells than header columns")
        if value is None or value == "":
            continue
        field = mapping.get(column, column)
        if field == "tags":
            doc["tags"] = [tag.strip() for tag in _TAG_SPLIT.split(value) if tag.strip()]
        elif field == "is_verified":
            flag = value.strip().lower()
            doc["is_verified"] = {
                "true": True,
                "1": True,
                "yes": True,
                "false": False,
                "0": False,
                "no": False,
            }.get(flag, value)
        elif field == "metadata":
            try:
                doc["metadata"] = json.loads(value)
            except json.JSONDecodeError:
                doc["metadata"] = value  # refused by the database's check, with its line
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
