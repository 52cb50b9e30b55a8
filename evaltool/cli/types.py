"""Click parameter types that refuse a bad value at the door: a usage error (exit 2) naming
the option, before anything reaches the database."""

import math
import os
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import click

from evaltool import runfilter
from evaltool.errors import EvaltoolError

# The largest bigint of PostgreSQL: counts end in a LIMIT or a bigint column.
BIGINT_MAX = 2**63 - 1
# Prices are numeric(14, 6): below 10^8 dollars per million tokens.
PRICE_MAX = 1e8


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (1e400 reads as inf): nan passes every
    range check, and neither is a price, a rate or a number of seconds."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def price() -> FiniteFloat:
    """Dollars per million tokens: 0 or more, and less than the column holds."""
    return FiniteFloat(0, PRICE_MAX, max_open=True)


def count(minimum: int = 1, maximum: int = BIGINT_MAX) -> click.IntRange:
    """A whole number the database can take (a LIMIT is a bigint)."""
    return click.IntRange(minimum, maximum)


class Text(click.ParamType):
    """Any text that is valid Unicode: bytes a terminal passes that are not UTF-8 (they
    arrive as lone surrogates) could never be sent to the database."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if any(unicodedata.category(char) == "Cs" for char in text):
            self.fail(f"{_shown(text)} is not valid UTF-8 text.", param, ctx)
        return text


class Name(Text):
    """A name: not empty, not only spaces, no control characters, valid Unicode."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        if not text.strip():
            self.fail("must not be empty or blank.", param, ctx)
        if any(unicodedata.category(char) == "Cc" for char in text):
            self.fail(f"{_shown(text)} must not contain control characters.", param, ctx)
        return text


def _shown(text: str) -> str:
    """The text quoted, with escapes for what a terminal cannot show, at most 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "..."


TEXT = Text()
NAME = Name()


class Url(click.ParamType):
    """An http or https URL with a host, e.g. http://127.0.0.1:8000/v1."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = NAME.convert(value, param, ctx)
        try:
            parts = urlsplit(text)
            host, _ = parts.hostname, parts.port  # the port raises ValueError if not a number
        except ValueError as exc:
            self.fail(f"{text!r} is not a URL: {exc}.", param, ctx)
        if parts.scheme.lower() not in ("http", "https") or not host:
            self.fail(
                f"{text!r} is not an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1.",
                param,
                ctx,
            )
        return text


URL = Url()


class Moment(click.ParamType):
    """A date (2026-11-01) or an age (7d, 12h, 2w, 1m), as the datetime it names."""

    name = "date|age"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return runfilter.when(str(value).strip().lower(), datetime.now().astimezone())
        except EvaltoolError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = Moment()


class RunRef(Text):
    """RUN: a run id (digits), or a model name for its latest completed run."""

    name = "run"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        if text.isdigit() and not (text.isascii() and len(text) <= 19 and int(text) <= BIGINT_MAX):
            # digits Python reads as a number (٣, ²) or one longer than a run id can be
            self.fail(f"{_shown(text)} is not a run id: see evaltool runs list.", param, ctx)
        return text


RUN = RunRef()


class InputFile(Text):
    """FILE to read: a path, a folder, a glob, or - for standard input. A path the system
    refuses to look at (too long, in a folder you cannot read) is a usage error; one that
    does not exist is left to the loader, which says so or expands it as a glob. File
    names may hold control characters (a newline is a legal one): messages escape them."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        if not text.strip():
            self.fail("must not be empty or blank.", param, ctx)
        if text != "-":
            try:
                os.stat(text)
            except FileNotFoundError:
                pass  # a glob, or a file that is not there: the loader tells which
            except OSError as exc:
                self.fail(f"{_shown(text)}: {exc.strerror}.", param, ctx)
        return text


INPUT_FILE = InputFile()
