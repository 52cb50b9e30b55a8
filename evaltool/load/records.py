"""Records read in Python for the loads that reshape them: --map, JSON documents, CSV.

Each record is staged as one JSON document with the line it came from. A record that
cannot be read is a `Problem`: the load stops at it, or sets it aside with --skip-invalid,
with the same reason either way.
"""

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from evaltool.errors import EvaltoolError
from evaltool.load import documents
from evaltool.load.sources import InputError, Source, blocks
from evaltool.load.stage import Problem, Record, invalid_utf8

Records = Callable[[Source], Iterator[Record]]
_MISSING = object()


class FieldMap:
    """--map SOURCE=FIELD options: the value at SOURCE, a field name or a dotted path into
    objects and arrays (answers.text.0), becomes FIELD. A top-level field read this way is
    renamed; the record's other fields stay as they are."""

    def __init__(self, pairs: tuple[str, ...] = ()) -> None:
        self.pairs: dict[str, str] = {}
        for pair in pairs:
            path, sep, field = pair.partition("=")
            if not sep or not path.strip() or not field.strip():
                raise EvaltoolError(
                    f"--map {pair!r}: expected SOURCE=FIELD, e.g. question=input "
                    "or answers.text.0=expected"
                )
            self.pairs[path] = field

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def apply(self, doc: Any) -> Any:
        """The record with its mapped fields (not an object: as it is, for SQL to refuse)."""
        if not isinstance(doc, dict) or not self.pairs:
            return doc
        found = {}
        for path, field in self.pairs.items():
            value = lookup(doc, path)
            if value is not _MISSING:
                found[field] = value
        renamed = {path for path, field in self.pairs.items() if path in doc and path != field}
        return {**{k: v for k, v in doc.items() if k not in renamed}, **found}


def lookup(doc: Any, path: str) -> Any:
    """The value at a field name or dotted path, or _MISSING."""
    if isinstance(doc, dict) and path in doc:
        return doc[path]
    value = doc
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and _is_index(step) and -len(value) <= int(step) < len(value):
            value = value[int(step)]
        else:
            return _MISSING
    return value


def _is_index(step: str) -> bool:
    return re.fullmatch(r"-?[0-9]+", step) is not None


def dumps(doc: Any) -> str:
    """A record as one line of JSON text; JsonProblem for a value JSON has but Unicode has
    not (a lone surrogate, \\ud800, which the database refuses)."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_plain)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        lone = f"\\u{ord(text[exc.start]):04x}"
        raise documents.JsonProblem(f"invalid JSON: lone surrogate {lone} is not Unicode") from None
    return text


def _plain(value: Any) -> Any:
    """What JSON has no type for (YAML's dates and sets) as JSON: text, or a list."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def json_lines(source: Source, reshape: Callable[[Any], Any]) -> Iterator[Record]:
    """The records of a JSON Lines input, each reshaped (by a FieldMap, say)."""

    def set_aside(line: int, reason: str, raw: bytes) -> None:
        problems.append((line, Problem(reason, raw)))

    problems: list[Record] = []
    line = 0
    for block, _ in blocks(source, set_aside):
        for raw in block.split(b"\n")[:-1]:
            line += 1
            while problems and problems[0][0] == line:
                yield problems.pop(0)
                raw = b""
            if not raw:
                continue
            try:
                yield line, dumps(reshape(documents.loads(raw.decode("utf-8"))))
            except UnicodeDecodeError:
                yield line, Problem(f"invalid UTF-8 ({invalid_utf8(raw)})", raw)
            except documents.JsonProblem as exc:
                yield line, Problem(str(exc), raw)


def json_document(source: Source, reshape: Callable[[Any], Any]) -> Iterator[Record]:
    """The records of a JSON document: an array of records, or an object holding one
    array of records (as {"data": [...]}), each with the line it starts on. The text is
    read whole, the records parsed one at a time."""
    text = documents.read_text(source)
    fields = documents.array_fields(source, text)
    if fields is not None and len(fields) != 1:
        raise InputError(
            f"{source.name}:1: a JSON document of records is an array, or an object "
            "with one array of records"
            + (f"; this one has {len(fields)}: {', '.join(fields[:5])}" if fields else ""),
            source.name,
            1,
        )
    for line, item in documents.items(source, text, tuple(fields or ())):
        try:
            yield line, dumps(reshape(item))
        except documents.JsonProblem as exc:
            yield line, Problem(str(exc), b"")


def is_json_document(source: Source) -> bool:
    """Whether a file is named like one JSON document (.json), not JSON Lines."""
    return source.name.endswith((".json", ".json.gz"))
