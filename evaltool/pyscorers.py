"""Python scorers: for what SQL cannot judge (a model as judge, a library metric).

A Python scorer is a function `scorer(cases, arg)` that takes a batch of `Case`s and the
metric's ARG (or None) and returns one result per case, in order:

- a number: the value (no pass/fail verdict);
- a bool: passed, with value 1.0 or 0.0;
- a dict with any of `value`, `passed` and `details` (a JSON object);
- None: no score for this case.

It may be `async def`. An attribute `version` (default "1") is stored with each score.
Scorers are found by name in the entry-point group `evaltool.scorers`, or named directly
as `python:module:function` or `python:path/to/file.py:function` (then `:ARG`); a case
reads as case.output_text or case["output_text"]. evaltool reads the run's responses in
batches, each in a short transaction (none stays open while the scorer works), sends each
batch's results back by COPY into a temporary table, and writes them all with one INSERT
at the end, as a new scoring (the earlier scores of the metric move to score_history), in
the caller's transaction. Error
responses fail every metric without reaching the scorer, as in SQL. A prepared scorer
with an attribute `judge` ({"model", "snapshot", "rubric_sha256"}) records its judge
with the scoring. A scorer that takes long over each case (a model call each, as
llm_judge makes) may call `scored()` as each case is done, so that the progress display
moves within a batch.
"""

import asyncio
import inspect
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from evaltool import pyload, queries
from evaltool.errors import EvaltoolError

GROUP = "evaltool.scorers"
BATCH = 500

# counts cases of the batch in hand as scored (see `scored`) while a scorer works on it
_counting: ContextVar[Callable[[int], None]] = ContextVar("evaltool_pyscorers_counting")


@dataclass(frozen=True, slots=True)
class Case:
    """One ok response as a Python scorer sees it."""

    response_id: int
    input: Any
    expected: Any
    output: Any
    output_text: str | None
    latency_ms: float | None
    cost_usd: float | None

    def __getitem__(self, field: str) -> Any:
        """case["output_text"] as well as case.output_text, for scorers written for dicts."""
        if field not in self.__dataclass_fields__:
            raise KeyError(field)
        return getattr(self, field)


@dataclass(frozen=True)
class PythonScorer:
    """A resolved Python scorer: the function, what the scores record, and its ARG."""

    function: Callable[..., Any]
    label: str
    version: str
    arg: str | None


def registered() -> dict[str, Any]:
    """The entry points of group evaltool.scorers, by name."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def resolve(scorer: str, arg: str | None) -> PythonScorer | None:
    """The Python scorer that a --metric SCORER[:ARG] names, or None for a SQL scorer.

    `python:module:function[:ARG]` imports the function; any other name is looked up in
    the entry-point group.
    """
    if scorer == "python":
        module_name, _, rest = (arg or "").partition(":")
        function_name, _, own_arg = rest.partition(":")
        if not module_name or not function_name:
            raise EvaltoolError(
                "--metric python:MODULE:FUNCTION[:ARG], e.g. python:my.scorers:bleu or "
                "python:./scorers.py:bleu"
            )
        target = f"{module_name}:{function_name}"
        function = pyload.load_function(target, "python scorer")
        return _scorer(function, f"python:{target}", own_arg or None)
    entry = registered().get(scorer)
    if entry is None:
        return None
    try:
        function = entry.load()
    except Exception as exc:  # a plugin's import error, whatever it is
        raise EvaltoolError(f"scorer {scorer} ({entry.value}) does not load: {exc}") from exc
    return _scorer(function, scorer, arg)


def _scorer(function: Callable[..., Any], label: str, arg: str | None) -> PythonScorer:
    return PythonScorer(function, label, str(getattr(function, "version", "1")), arg)


def responses(conn: psycopg.Connection, run_id: int) -> int:
    """How many responses of the run compute() goes through, for progress."""
    row = conn.execute(queries.get("pyscore_count"), {"run_id": run_id}).fetchone()
    return row[0] if row else 0


def scored(cases: int = 1) -> None:
    """Count `cases` of the batch in hand as scored, for the progress display; the rest of
    the batch counts when the scorer returns. Does nothing outside compute()."""
    count = _counting.get(None)
    if count is not None:
        count(cases)


def compute(
    conn: psycopg.Connection,
    run_id: int,
    scorer: PythonScorer,
    metric: str,
    progress: Callable[[int, int], None] = lambda ok, errors: None,
) -> PythonScorer:
    """Apply a Python scorer to every response of the run, staging its results in the
    session; returns the scorer as prepared (write() records its judge).

    No transaction stays open while the scorer works (a model as judge takes minutes, and
    a session idle in a transaction holds back vacuum): each batch is read, and its
    results staged, in a short transaction of its own. Nothing reaches the score table
    until write(). `progress(scored, errors)` counts the responses as they are scored,
    error responses as errors."""
    conn.commit()
    conn.execute(queries.get("pyscore_stage"))
    conn.execute(queries.get("pyscore_clear"), {"metric": metric})
    conn.commit()
    # A scorer may resolve what it needs once for the whole run (llm_judge: its model).
    prepare = getattr(scorer.function, "prepare", None)
    if prepare is not None:
        scorer = replace(scorer, function=_prepared(scorer, prepare))
    after = 0
    while True:
        params = {"run_id": run_id, "after": after, "limit": BATCH}
        rows = conn.execute(queries.get("pyscore_cases"), params).fetchall()
        conn.commit()
        if not rows:
            return scorer
        after = rows[-1][0]
        # an error response fails, and has no value: an error is not a score of 0
        failed = [
            (r[0], None, False, Jsonb({"error": "the call failed"})) for r in rows if not r[1]
        ]
        cases = [Case(r[0], *r[2:]) for r in rows if r[1]]
        results = _call_counting(scorer, cases, progress) if cases else []
        progress(0, len(failed))
        staged = failed + [
            row for case, result in zip(cases, results, strict=True)
            if (row := _row(scorer, case, result)) is not None
        ]  # fmt: skip
        with conn.cursor().copy(queries.get("pyscore_copy")) as copy:
            for row in staged:
                copy.write_row((metric, *row))
        conn.commit()


def write(conn: psycopg.Connection, run_id: int, scorer: PythonScorer, metric: str) -> int:
    """Write a metric's staged results as a new scoring, in the caller's transaction;
    returns the scores written."""
    judge = getattr(scorer.function, "judge", None) or {}
    params = {
        "run_id": run_id,
        "metric": metric,
        "scorer": scorer.label,
        "version": scorer.version,
        "arg": scorer.arg,
        "judge_model": judge.get("model"),
        "judge_snapshot": Jsonb(judge["snapshot"]) if "snapshot" in judge else None,
        "rubric_sha256": judge.get("rubric_sha256"),
    }
    row = conn.execute(queries.get("pyscore_begin"), params).fetchone()
    assert row is not None
    params["scoring_id"] = row[0]
    params["scores"] = written = conn.execute(queries.get("pyscore_write"), params).rowcount
    conn.execute(queries.get("scoring_finish"), params)
    return written


@contextmanager
def _own_failures(scorer: PythonScorer) -> Iterator[None]:
    """A scorer's own exception, whatever it is, as one line naming the scorer."""
    try:
        yield
    except EvaltoolError:
        raise
    except Exception as exc:
        raise EvaltoolError(f"scorer {scorer.label} failed: {type(exc).__name__}: {exc}") from exc


def _prepared(scorer: PythonScorer, prepare: Callable[..., Any]) -> Callable[..., Any]:
    with _own_failures(scorer):
        return prepare(scorer.arg)


def _call_counting(
    scorer: PythonScorer, cases: list[Case], progress: Callable[[int, int], None]
) -> list[Any]:
    """_call, counting each case the scorer says is scored (`scored`) as it goes, and the
    others once it returns."""
    counted = 0

    def count(cases_done: int) -> None:
        nonlocal counted
        cases_done = min(cases_done, len(cases) - counted)
        if cases_done > 0:
            counted += cases_done
            progress(cases_done, 0)

    token = _counting.set(count)
    try:
        results = _call(scorer, cases)
    finally:
        _counting.reset(token)
    count(len(cases))
    return results


def _call(scorer: PythonScorer, cases: list[Case]) -> list[Any]:
    with _own_failures(scorer):
        results = scorer.function(cases, scorer.arg)
        if inspect.isawaitable(results):
            results = asyncio.run(_await(results))
        results = list(results) if isinstance(results, Iterable) else results
    if not isinstance(results, list) or len(results) != len(cases):
        got = len(results) if isinstance(results, list) else type(results).__name__
        raise EvaltoolError(
            f"scorer {scorer.label} must return one result per case: {len(cases)} cases, got {got}"
        )
    return results


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _row(scorer: PythonScorer, case: Case, result: Any) -> tuple[Any, ...] | None:
    """One result as a score row, or None for no score."""
    if result is None:
        return None
    value: float | None
    passed: bool | None
    details: Any = {}
    if isinstance(result, bool):
        value, passed = float(result), result
    elif isinstance(result, int | float):
        value, passed = float(result), None
    elif isinstance(result, dict):
        value, passed, details = (
            result.get("value"),
            result.get("passed"),
            result.get("details", {}),
        )
        if passed is not None and not isinstance(passed, bool):
            raise _bad(scorer, case, f"passed must be true, false or absent, not {passed!r}")
        if value is None and passed is not None:
            value = float(passed)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _bad(scorer, case, f"value must be a number, not {value!r}")
        if not isinstance(details, dict):
            raise _bad(scorer, case, "details must be a JSON object")
    else:
        raise _bad(scorer, case, f"a number, bool, dict or None, not {type(result).__name__}")
    if not math.isfinite(value):
        raise _bad(scorer, case, f"value must be finite, not {value}")
    return case.response_id, float(value), passed, Jsonb(details)


def _bad(scorer: PythonScorer, case: Case, reason: str) -> EvaltoolError:
    return EvaltoolError(f"scorer {scorer.label}, response {case.response_id}: {reason}")
