"""Asking a model outside a run, as the judges do: one prompt with retries on rate limits
and server errors, many prompts together, the rubric a prompt is rendered from, and the
registered model that answers. llm_judge (judge.py) and pairwise judging (pairwise.py)
share them; backoff is the runner's too."""

import asyncio
import hashlib
import json
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from evaltool import adapters, queries
from evaltool.adapters import CallError
from evaltool.errors import EvaltoolError

T = TypeVar("T")

ATTEMPTS = 4
RETRY_BASE_S = 0.5
RETRY_CAP_S = 30.0
# The longest Retry-After honoured: a run asked to wait longer stores the call as an error
# (wait_refused) rather than stalling for as long as the server says.
RETRY_AFTER_CAP_S = 120.0


def backoff(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter; never shorter than the server's Retry-After
    (up to RETRY_AFTER_CAP_S)."""
    delay = random.uniform(0, min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempt - 1)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_S))
    return delay


def wait_refused(retry_after: float | None) -> str | None:
    """The error of a call whose server asks to retry after more than RETRY_AFTER_CAP_S,
    or None when the wait is acceptable (or not given)."""
    if retry_after is None or retry_after <= RETRY_AFTER_CAP_S:
        return None
    return f"rate limited: server asked to retry after {retry_after:.0f} s"


async def gather_or_cancel(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """The results of all calls; on the first failure the others are cancelled and waited
    for, so that no call outlives the adapter it uses."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def ask(adapter: adapters.Adapter, prompt: str, who: str) -> str:
    """The judge's reply to one prompt, retried on rate limits and server errors; a call
    that still fails raises EvaltoolError naming `who` asked, without the judge's secrets."""
    for attempt in range(ATTEMPTS):
        try:
            result = await adapter.call(prompt)
            return result.output_text or ""
        except CallError as exc:
            refused = wait_refused(exc.retry_after)
            if exc.fatal or not exc.retryable or attempt == ATTEMPTS - 1 or refused:
                exc.redact(adapter.secrets)  # create()'s adapters did; any other may not
                reason = refused or str(exc)
                raise EvaltoolError(f"{who}: the judge's call failed: {reason}") from exc
            await asyncio.sleep(backoff(attempt + 1, exc.retry_after))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Rubric:
    """A rubric template, and the SHA-256 of its text (recorded with what it judged)."""

    template: Template
    sha256: bytes

    def render(self, **values: Any) -> str:
        return self.template.render(**values)


def rubric(path: str | None, default: str, who: str) -> Rubric:
    """The rubric template in file `path`, or `default`, in a sandbox: rubrics are user files."""
    env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
    try:
        source = Path(path).read_text(encoding="utf-8") if path else default
        return Rubric(env.from_string(source), hashlib.sha256(source.encode()).digest())
    except OSError as exc:
        raise EvaltoolError(f"{who}: cannot read rubric {path}: {exc.strerror}") from exc
    except TemplateError as exc:
        raise EvaltoolError(f"{who}: rubric {path}: {exc}") from exc


def judge_model(
    conn: psycopg.Connection, name: str, who: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The snapshot and current parameters of the registered model `name`."""
    row = conn.execute(queries.get("judge_model"), {"model": name}).fetchone()
    if row is None:
        raise EvaltoolError(f"{who}: no model named {name!r}: see evaltool models list")
    return row[0], row[1]


def as_text(value: Any) -> str:
    """A JSON value as the judge reads it: strings as they are, the rest as JSON."""
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
