"""JSON read in Python: lines and whole documents, with the line each record starts on.

The COPY fast path never parses JSON in Python. The paths that must (a --map, a JSON
document such as a results file of another tool) parse it here, with the same rules as
the database: no NaN or Infinity, no number beyond a double, nesting within limits; and
each failure is an InputError naming FILE:LINE.
"""

import json
import math
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from evaltool.load.sources import InputError, Source, unreadable

_DECODER = json.JSONDecoder(
    parse_float=lambda text: _finite(float(text)),
    parse_int=lambda text: _whole(text),
    parse_constant=lambda name: _refuse(f"{name} is not a JSON number"),
)
# For tools that write NaN for "no value" (Inspect's unscored samples): None instead
_LENIENT = json.JSONDecoder(
    parse_float=lambda text: _finite(float(text)),
    parse_int=lambda text: _whole(text),
    parse_constant=lambda name: None,
)
# Python reads integers of up to 4,300 digits; no column of evaltool's holds one that long
MAX_DIGITS = 4300
_SPACE = re.compile(r"[ \t\n\r]*")
# Tokens that change the depth of a JSON text, and strings (which hide brackets).
_DEPTH_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|[\[\]{}]|\n')
# \u0000 not itself escaped: a NUL in a string, which jsonb (and text) cannot hold
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# The nesting at which Python's parser and PostgreSQL's (its stack depth) both give up.
MAX_DEPTH = 900


class JsonProblem(ValueError):
    """A JSON text the database would refuse, and why."""


def _finite(value: float) -> float:
    if math.isinf(value):
        raise JsonProblem("number out of range")
    return value


def _whole(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise JsonProblem("number out of range")
    return int(text)


def _refuse(reason: str) -> None:
    raise JsonProblem(reason)


def loads(text: str, *, nan_as_null: bool = False, nul_ok: bool = False) -> Any:
    """One JSON value; raises JsonProblem (nested too deeply, NaN, out of range, syntax, a
    NUL character, which the database refuses). With nan_as_null, NaN and Infinity read
    as null; with nul_ok, a NUL is left for the loads to refuse where it is stored (a
    document whose records are parts of it may hold one elsewhere)."""
    decoder = _LENIENT if nan_as_null else _DECODER
    try:
        value, end = decoder.raw_decode(text, _SPACE.match(text, 0).end())  # type: ignore[union-attr]
    except RecursionError:
        raise JsonProblem("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"invalid JSON: {exc.msg}") from None
    except JsonProblem as exc:
        raise JsonProblem(f"invalid JSON: {exc}") from None
    if _SPACE.match(text, end).end() != len(text):  # type: ignore[union-attr]
        raise JsonProblem("invalid JSON: Extra data")
    if not nul_ok and "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise JsonProblem("invalid JSON: \\u0000 (NUL) is not allowed")
    return value


def read_text(source: Source) -> str:
    """The whole input as text (a byte-order mark dropped); InputError if not UTF-8."""
    stream = source.open()
    try:
        data = stream.read()
    except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip file
        raise InputError(f"{source.name}: {unreadable(exc)}", source.name) from exc
    finally:
        if source.path is not None:
            stream.close()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{source.name}:{line}: invalid UTF-8", source.name, line) from exc


def document(source: Source, text: str, *, nan_as_null: bool = False) -> Any:
    """The JSON document of a file; InputError with the line of the first problem. With
    nan_as_null, NaN and Infinity read as null. A NUL character is left for the loads to
    refuse where it is stored: a document may hold one outside what is imported."""
    try:
        return (_LENIENT if nan_as_null else _DECODER).decode(text)
    except RecursionError:
        line = deep_line(text)
        raise InputError(
            f"{source.name}:{line}: JSON nested too deeply", source.name, line
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source.name}:{exc.lineno}: invalid JSON: {exc.msg}", source.name, exc.lineno
        ) from None
    except JsonProblem as exc:  # the parser does not say where: find the first such number
        line = _number_line(text)
        raise InputError(f"{source.name}:{line}: invalid JSON: {exc}", source.name, line) from None


def items(
    source: Source, text: str, path: Sequence[str | int] = (), *, nan_as_null: bool = False
) -> Iterator[tuple[int, Any]]:
    """(line, item) for each item of the array at `path` in a JSON document, where line
    is the line the item starts on; nothing if `path` is absent. One item at a time is
    parsed, so a large document needs its text in memory but not all its values at once;
    a problem on the way is an InputError naming its line."""
    decoder = _LENIENT if nan_as_null else _DECODER
    line, counted = 1, 0
    with _located(source, text, lambda: line):
        start = _find(text, _SPACE.match(text, 0).end(), path, decoder)  # type: ignore[union-attr]
        if start is None or start >= len(text) or text[start] != "[":
            return
        at = _SPACE.match(text, start + 1).end()  # type: ignore[union-attr]
        if text[at] == "]":
            _end(text, at + 1, path)
            return
        while True:
            line += text.count("\n", counted, at)
            counted = at
            value, at = decoder.raw_decode(text, at)
            yield line, value
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] == "]":
                _end(text, at + 1, path)
                return
            if text[at] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]


def array_fields(source: Source, text: str) -> list[str] | None:
    """The fields of a JSON document's top-level object whose values are arrays (None if
    the document is an array), each value parsed and let go in turn."""
    with _located(source, text, lambda: 1):
        at = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
        if text[at] == "[":
            return None
        if text[at] != "{":
            raise json.JSONDecodeError("Expecting an array or an object", text, at)
        fields = []
        at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        while text[at] != "}":
            key, at = _DECODER.raw_decode(text, at)
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
            at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            if text[at] == "[":
                fields.append(key)
            _, at = _LENIENT.raw_decode(text, at)  # the records' own checks come later
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] == ",":
                at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            elif text[at] != "}":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        _end(text, at + 1, ())
        return fields


def _end(text: str, at: int, path: Sequence[str | int]) -> None:
    """After the top-level value: nothing but space."""
    if not path and _SPACE.match(text, at).end() != len(text):  # type: ignore[union-attr]
        raise json.JSONDecodeError("Extra data", text, _SPACE.match(text, at).end())  # type: ignore[union-attr]


@contextmanager
def _located(source: Source, text: str, line: Callable[[], int]) -> Iterator[None]:
    """JSON problems met while walking a document, as InputError naming their line
    (`line`: the line of the item being read, where the parser does not say)."""
    try:
        yield
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source.name}:{exc.lineno}: invalid JSON: {exc.msg}", source.name, exc.lineno
        ) from None
    except IndexError:  # the text ended inside a value
        at = text.count("\n") + 1
        raise InputError(
            f"{source.name}:{at}: invalid JSON: unexpected end of the document", source.name, at
        ) from None
    except RecursionError:
        at = deep_line(text)
        raise InputError(f"{source.name}:{at}: JSON nested too deeply", source.name, at) from None
    except JsonProblem as exc:
        raise InputError(
            f"{source.name}:{line()}: invalid JSON: {exc}", source.name, line()
        ) from None


def _find(text: str, at: int, path: Sequence[str | int], decoder: json.JSONDecoder) -> int | None:
    """Where the value at `path` starts, from the value starting at `at`."""
    for step in path:
        opening = text[at]
        if opening not in "{[" or (opening == "{") != isinstance(step, str):
            return None
        at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        index = 0
        while text[at] not in "}]":
            if opening == "{":
                key, at = decoder.raw_decode(text, at)
                at = _SPACE.match(text, _SPACE.match(text, at).end() + 1).end()  # type: ignore[union-attr]
                hit = key == step
            else:
                hit = index == step
                index += 1
            if hit:
                break
            _, at = decoder.raw_decode(text, at)
            at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at] == ",":
                at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
        else:
            return None
    return at


def deep_line(text: str) -> int:
    """The line where a JSON text first nests deeper than MAX_DEPTH (1 if it never does)."""
    depth, line = 0, 1
    for token in _DEPTH_TOKENS.finditer(text):
        kind = token.group()
        if kind == "\n":
            line += 1
        elif kind in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif kind in "]}":
            depth -= 1
        else:
            line += kind.count("\n")
    return 1


def _number_line(text: str) -> int:
    """The line of the first number or constant a JSON text may not hold."""
    for number, line in _numbers(text):
        try:
            _DECODER.decode(number)
        except (JsonProblem, json.JSONDecodeError):
            return line
    return 1


def _numbers(text: str) -> Iterator[tuple[str, int]]:
    line = 1
    for token in re.finditer(r'"(?:\\.|[^"\\])*"|-?Infinity|NaN|-?[0-9][0-9.eE+-]*|\n', text):
        kind = token.group()
        if kind == "\n":
            line += 1
        elif kind.startswith('"'):
            continue
        else:
            yield kind, line
