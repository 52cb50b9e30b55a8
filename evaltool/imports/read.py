"""What the importers share: reading their files with FILE:LINE errors, and the pieces of
other tools' records that mean the same everywhere (message text, numbers, model names)."""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from evaltool.load import documents
from evaltool.load.sources import InputError, Source, blocks

_NAME_SAFE = re.compile(r"[\x00-\x1f\x7f:]+")


def text_lines(source: Source) -> Iterator[tuple[int, str]]:
    """(line, text) of each non-empty line; one that is not UTF-8 stops with FILE:LINE."""
    line = 0
    for block, _ in blocks(source):
        for raw in block.split(b"\n")[:-1]:
            line += 1
            if raw:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    fail(source, line, "invalid UTF-8")
                yield line, text


def json_lines(source: Source, *, nan_as_null: bool = False) -> Iterator[tuple[int, Any]]:
    """(line, document) of each non-empty line; a bad line stops with FILE:LINE."""
    for line, text in text_lines(source):
        try:
            doc = documents.loads(text, nan_as_null=nan_as_null)
        except documents.JsonProblem as exc:
            fail(source, line, str(exc))
        yield line, doc


def json_document(source: Source, *, nan_as_null: bool = False) -> tuple[str, Any]:
    """The text and the JSON document of a file."""
    text = documents.read_text(source)
    return text, documents.document(source, text, nan_as_null=nan_as_null)


def fail(source: Source, line: int, reason: str) -> None:
    """Stop the import at FILE:LINE."""
    raise InputError(f"{source.name}:{line}: {reason}", source.name, line)


def obj(value: Any) -> dict[str, Any]:
    """The value if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def number(value: Any) -> int | float | None:
    """A JSON number (not a boolean), else None."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def text_of(content: Any) -> str | None:
    """The text of a message's content: a string, or the text parts of a list of parts
    ({"type": "text", "text": ...}, as OpenAI, Anthropic, Bedrock and Inspect write them)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        texts = [part for part in parts if isinstance(part, str)]
        return "".join(texts) if texts else None
    return None


def split_model(name: str, separators: str = ":/") -> tuple[str, str]:
    """(provider, model id) of names like openai:gpt-4o or openai/gpt-4o; provider
    'imported' when the name has no prefix."""
    for at, char in enumerate(name):
        if char in separators and 0 < at < len(name) - 1:
            return name[:at], name[at + 1 :]
    return "imported", name


def dataset_name(text: str, default: str) -> str:
    """A dataset name made of a file's task or description: one line, no version colon."""
    name = _NAME_SAFE.sub(" ", text).strip()[:100]
    return name or default


def unix_time(value: Any) -> str | None:
    """An ISO 8601 time of Unix seconds, else None."""
    seconds = number(value)
    if seconds is None or not 0 < seconds < 32503680000:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def iso_time(value: Any) -> str | None:
    """A time that is already ISO 8601 text, else None (the load checks the form)."""
    return value if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value) else None


def short(text: str, width: int = 60) -> str:
    """One line of at most `width` characters, for run names."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def run_key(*parts: Any) -> str:
    """The key of a run within an import, recorded with the run: JSON of its parts."""
    return json.dumps([str(part).replace("\x00", " ") for part in parts], ensure_ascii=False)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean(text: str, width: int = 200) -> str:
    """A name from a file, fit for a column and a terminal: control characters (NUL
    included) as spaces, on one line, at most `width` characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates as "?"
    return short(_CONTROL.sub(" ", text), width)


def storable(value: Any) -> Any:
    """A JSON value that jsonb can hold, for what an import records about a run rather than
    loads as a record: NULs as spaces, lone surrogates as "?". Through its JSON text,
    which the C encoder and decoder walk without Python's recursion."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\\u0000", " ")
    return json.loads(text)
