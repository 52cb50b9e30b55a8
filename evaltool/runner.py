"""A worker: answers a run's queued test cases (each of their samples) with a model and
writes the responses.

One coordinating loop talks to the database: it claims test cases under leases (FOR UPDATE
SKIP LOCKED, so any number of workers can share a run), renews the leases while it lives,
and writes finished calls in batches through COPY. `concurrency` callers make the model
calls, within the request and token rate limits, retrying what can succeed later.

A worker is alive while its database session is: the session holds an advisory lock keyed
by a random number that ends the worker's id, and a shared one on the run. Workers free
the leases of a worker whose lock is gone at once (task_release_dead), and run_summary
shows a running run that no session holds the run lock for as interrupted. The host name
and process id in the id are for people only: containers share them.
"""

import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import secrets
import signal
import socket
import statistics
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
from psycopg import sql

from evaltool import db, queries, templates
from evaltool.adapters import Adapter, CallError, Result, estimate_tokens
from evaltool.calls import backoff, wait_refused
from evaltool.errors import EvaltoolError
from evaltool.ratelimit import RateLimit
from evaltool.runs import RunTarget

FLUSH_ROWS = 500  # results a flush writes at most...
FLUSH_S = 0.5  # ...and how long a finished result waits at most
POLL_S = 1.0  # between claims that found nothing
# Identical systemic failures in a row, with no call succeeding in between, that stop a run
SYSTEMIC_STOP = 3


@dataclass
class CallOptions:
    """How a worker calls the model (each worker process has its own limits)."""

    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    timeout_s: float = 120.0
    max_retries: int = 5
    lease_s: float = 60.0
    # The response cache: "on" reuses an earlier answer to the same request of the same model
    # configuration, "off" always calls, "only" fails rather than call.
    cache: str = "on"


@dataclass
class Outcome:
    """What one worker did."""

    worker: str
    ok: int = 0
    errors: int = 0
    dropped: int = 0  # finished after another worker took the lease over; not written
    cached: int = 0  # answered from the response cache, without a call
    interrupted: bool = False
    fatal: str | None = None
    budget: str | None = None  # the spending limit that stopped the work
    # median time of a claim (ms) over the first and the last 1% of this worker's claims:
    # a queue that slows down as it drains shows here (make bench-run prints them)
    claim_ms_first: float | None = None
    claim_ms_last: float | None = None
    error_samples: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """One finished call, as a worker writes it: each field is the column of the same name
    in the staging table pg_temp.evaltool_result (COPY names them from these fields)."""

    prompt_id: int
    sample: int
    status: str  # 'ok' or 'error'
    output: str | None  # JSON text
    output_text: str | None
    error: str | None
    latency_ms: float
    input_tokens: int | None
    output_tokens: int | None
    tokens_estimated: bool
    attempts: int
    metadata: str  # JSON text
    started_at: datetime
    request: str | None = None  # JSON text of the rendered messages; None: the input as is
    first_token_ms: float | None = None  # of a streamed answer

    def values(self) -> tuple[Any, ...]:
        """The field values, in the order of response_columns()."""
        return tuple(getattr(self, name) for name in response_columns())


@cache
def response_columns() -> tuple[str, ...]:
    """The staging table columns a Response fills, in its field order."""
    return tuple(f.name for f in fields(Response))


@cache
def _result_copy() -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in response_columns())
    return sql.SQL(queries.get("result_copy")).format(columns=columns)


class _Fatal(Exception):
    """A failure every call would share (a rejected key): stop the worker."""


class DatabaseLost(EvaltoolError):
    """The worker's database session ended mid-run: the server stopped or restarted, or the
    session was terminated. What was written stays; `evaltool run --resume` does the rest."""


class Worker:
    """Answers the queued test cases of one run until none are left or it is stopped."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection,
        run_id: int,
        model_id: int,
        adapter: Adapter,
        options: CallOptions,
        on_written: Callable[[int, int], None] | None = None,
        template: templates.Template | None = None,
    ) -> None:
        self.conn = conn
        self.template = template
        self.run_id = run_id
        self.model_id = model_id
        self.adapter = adapter
        self.options = options
        self.on_written = on_written
        # completed by _register with the key of the lock that says it is alive
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.outcome = Outcome(self.worker_id)
        self._rpm = RateLimit(options.rpm) if options.rpm else None
        self._tpm = RateLimit(options.tpm) if options.tpm else None
        # (prompt id, sample, request JSON text, rendered request to store or None)
        self._queue: asyncio.Queue[tuple[int, int, str, str | None]] = asyncio.Queue()
        self._results: list[Response] = []
        self._outstanding = 0  # claimed and not finished
        self._wake = asyncio.Event()
        self._stopping = False
        self._budgeted = False  # whether a --max-cost or a project budget limits the run
        self._after = (0, 0)  # the last (prompt id, sample) claimed: the next claim's start
        self._streak: tuple[str, int] = ("", 0)  # the last systemic failure, and how often
        self._claim_ms: array[float] = array("d")

    def stop(self) -> None:
        """Stop soon: abandon calls in flight, write what is finished, release the rest."""
        if not self._stopping:
            self._stopping = True
            self.outcome.interrupted = self.outcome.budget is None
            self._wake.set()

    async def work(self) -> Outcome:
        """Work until the run's queue is empty, `stop()` is called, or a fatal error.

        Raises DatabaseLost when the database session ends under it."""
        try:
            return await self._work()
        except psycopg.Error as exc:
            if not self.conn.closed:
                raise
            raise DatabaseLost(
                f"lost the database during run {self.run_id}: {db.first_line(exc)}; "
                f"when it is back: evaltool run --resume {self.run_id}"
            ) from exc

    async def _register(self) -> None:
        """Take the session's advisory locks that tell other workers, and run_summary, that
        this worker is alive; its id ends with the key of its own lock."""
        while True:
            key = secrets.randbelow(2**31 - 1) + 1
            cur = await self.conn.execute(queries.get("worker_lock"), {"key": key})
            row = await cur.fetchone()
            if row is not None and row[0]:
                break
        self.worker_id = self.outcome.worker = f"{self.worker_id}:lock-{key}"
        await self.conn.execute(queries.get("run_join"), {"run_id": self.run_id})
        await self.conn.commit()

    async def _work(self) -> Outcome:
        await self._register()
        p = {"run_id": self.run_id, "worker": self.worker_id, "lease_s": self.options.lease_s}
        await self.conn.execute(queries.get("result_stage"))
        await self.conn.execute(queries.get("run_start"), p)
        cur = await self.conn.execute(queries.get("run_budgeted"), p)
        self._budgeted = bool((await cur.fetchone() or (False,))[0])
        await self.conn.commit()
        callers = [asyncio.create_task(self._caller()) for _ in range(self.options.concurrency)]
        try:
            await self._coordinate()
        finally:
            for task in callers:
                task.cancel()
            await asyncio.gather(*callers, return_exceptions=True)
            await self.adapter.aclose()
        await self._flush()
        if self._stopping:
            await self.conn.execute(queries.get("task_release"), p)
            status = (
                "failed"
                if self.outcome.fatal
                else "budget_exceeded"
                if self.outcome.budget
                else "interrupted"
            )
            await self.conn.execute(
                queries.get("run_stop"), {**p, "status": status, "error": self.outcome.fatal}
            )
        else:
            await self.conn.execute(queries.get("run_complete"), p)
        await self.conn.commit()
        self._claim_times()
        return self.outcome

    async def _coordinate(self) -> None:
        p = {"run_id": self.run_id, "worker": self.worker_id, "lease_s": self.options.lease_s}
        last_flush = last_renew = time.monotonic()
        next_claim = 0.0
        drained = False  # the last claim found nothing free
        want = max(2 * self.options.concurrency, 16)
        while not self._stopping:
            now = time.monotonic()
            if self._results and (len(self._results) >= FLUSH_ROWS or now - last_flush >= FLUSH_S):
                await self._flush()
                last_flush = now
            if now - last_renew >= self.options.lease_s / 3:
                await self.conn.execute(queries.get("task_renew"), p)
                await self.conn.commit()
                last_renew = now
            if self.outcome.budget is not None:
                if self._outstanding == 0:  # the calls under way are finished: stop
                    self.stop()
                    break
            elif self._queue.qsize() < self.options.concurrency and now >= next_claim:
                n = await self._affordable(p, want) if self._budgeted else want
                if n == 0:  # spent, or the calls under way may spend the rest: wait for them
                    next_claim = now + POLL_S
                    continue
                claimed = await self._claim(p, n)
                asks = await self._from_cache(self._requests(claimed))
                for ask in asks:
                    self._queue.put_nowait(ask)
                self._outstanding += len(asks)
                drained = not claimed
                if drained:
                    next_claim = now + POLL_S
            if drained and self._outstanding == 0:
                if await self._queue_is_done(p):
                    return
                drained = False  # others hold leases: look again at the next claim
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.05)

    async def _claim(self, p: dict[str, Any], n: int) -> list[Any]:
        """Lease up to n samples, from after the last one this worker claimed; from the
        queue's head when nothing is left ahead."""
        t0 = time.perf_counter()
        while True:
            claim = {
                **p,
                "n": n,
                "with_case": self.template is not None,
                "after_prompt": self._after[0],
                "after_sample": self._after[1],
            }
            cur = await self.conn.execute(queries.get("task_claim"), claim)
            claimed = await cur.fetchall()
            await self.conn.commit()
            if claimed:
                self._after = (claimed[-1][0], claimed[-1][1])
            elif self._after != (0, 0):
                self._after = (0, 0)
                continue
            self._claim_ms.append((time.perf_counter() - t0) * 1000)
            return claimed

    def _claim_times(self) -> None:
        """The median claim time of the first and the last 1% of the claims."""
        if self._claim_ms:
            tail = max(1, len(self._claim_ms) // 100)
            self.outcome.claim_ms_first = statistics.median(self._claim_ms[:tail])
            self.outcome.claim_ms_last = statistics.median(self._claim_ms[-tail:])

    async def _affordable(self, p: dict[str, Any], want: int) -> int:
        """How many test cases to claim under the run's --max-cost or its project's monthly
        budget: what is left pays for at the run's average cost per call, less the calls
        leased now (by every worker). When the limit is spent the worker claims nothing
        more, starts no call it has not started (they go back to the queue when it stops),
        and stops once the calls under way are written: money spent is recorded."""
        await self._flush()
        cur = await self.conn.execute(queries.get("run_budget"), p)
        row = await cur.fetchone()
        await self.conn.commit()
        if row is None:
            return want
        reason, left, per_call, leased = row
        if reason is None:
            if left is None or not per_call:  # nothing spent yet to estimate from: learn
                return min(want, self.options.concurrency)
            affordable = math.floor(left / per_call) - leased
            if affordable > 0:
                return min(want, affordable)
            if self._outstanding > 0:
                return 0
            return 1  # less than a call's average is left: one more call settles it
        self.outcome.budget = reason
        while not self._queue.empty():
            self._queue.get_nowait()
            self._outstanding -= 1
        self._wake.set()
        return 0

    def _requests(
        self, claimed: list[tuple[int, int, str, str | None]]
    ) -> list[tuple[int, int, str, str | None]]:
        """What to send for each claimed sample: the input as it is, or the messages the run's
        template renders from the test case. A test case the template cannot render is an
        error response at once."""
        if self.template is None:
            return [
                (prompt_id, sample, input_text, None)
                for prompt_id, sample, input_text, _ in claimed
            ]
        asks: list[tuple[int, int, str, str | None]] = []
        for prompt_id, sample, _, case_text in claimed:
            assert case_text is not None  # task_claim returns the case when asked with_case
            started = datetime.now(UTC)
            try:
                rendered = templates.render(self.template, json.loads(case_text))
            except templates.TemplateError as exc:
                self._results.append(_error_row(prompt_id, sample, str(exc), 0.0, 1, started))
                continue
            request = _json_text(rendered)
            asks.append((prompt_id, sample, request, request))
        return asks

    async def _from_cache(
        self, asks: list[tuple[int, int, str, str | None]]
    ) -> list[tuple[int, int, str, str | None]]:
        """The asks the response cache cannot answer; those it can are written as this run's
        responses (cache_take). With cache "only", a miss stops the worker."""
        if not asks or self.options.cache == "off":
            return asks
        cur = await self.conn.execute(
            queries.get("cache_take"),
            {
                "run_id": self.run_id,
                "worker": self.worker_id,
                "prompt_ids": [a[0] for a in asks],
                "samples": [a[1] for a in asks],
                "requests": [a[3] for a in asks],
            },
        )
        served = {(prompt_id, sample) for prompt_id, sample in await cur.fetchall()}
        await self.conn.commit()
        if served:
            self.outcome.ok += len(served)
            self.outcome.cached += len(served)
            if self.on_written:
                self.on_written(len(served), 0)
        missed = [a for a in asks if (a[0], a[1]) not in served]
        if missed and self.options.cache == "only":
            self.outcome.fatal = (
                f"{len(missed)} claimed test cases are not in the response cache (--cache-only); "
                "run without --cache-only to call the model"
            )
            self.stop()
            return []
        return missed

    async def _queue_is_done(self, p: dict[str, Any]) -> bool:
        """True when the run has nothing left; otherwise frees the leases of dead workers,
        so a resume after a crash need not wait for them to expire."""
        await self._flush()
        await self.conn.execute(queries.get("task_release_dead"), p)
        cur = await self.conn.execute(queries.get("task_state"), p)
        row = await cur.fetchone()
        await self.conn.commit()
        assert row is not None
        return bool(row[0] == 0)

    async def _caller(self) -> None:
        while True:
            prompt_id, sample, request_text, request = await self._queue.get()
            if self._queue.qsize() < self.options.concurrency:
                self._wake.set()
            try:
                row = await self._answer(prompt_id, sample, request_text, request)
            except _Fatal as exc:
                self.outcome.fatal = str(exc)
                self.stop()
                return
            self._results.append(row)
            self._outstanding -= 1
            if len(self._results) >= FLUSH_ROWS or self._outstanding == 0:
                self._wake.set()

    async def _answer(
        self, prompt_id: int, sample: int, input_text: str, request: str | None
    ) -> Response:
        input = json.loads(input_text)
        attempts = 0
        while True:
            attempts += 1
            estimate = estimate_tokens(input_text) if self._tpm else 0
            if self._rpm:
                await self._rpm.acquire()
            if self._tpm:
                await self._tpm.acquire(estimate)
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(self.options.timeout_s):
                    result = await self.adapter.call(input)
            except TimeoutError:
                error = CallError(f"timed out after {self.options.timeout_s:g} s", retryable=True)
            except CallError as exc:
                error = exc
            except Exception as exc:  # an adapter bug must not stop the other calls
                error = CallError(f"{type(exc).__name__}: {exc}")
            else:
                self._streak = ("", 0)
                latency_ms = (time.perf_counter() - t0) * 1000
                if self._tpm:
                    used = (result.input_tokens or 0) + (result.output_tokens or 0)
                    self._tpm.adjust(used - estimate)
                row = _ok_row(prompt_id, sample, result, latency_ms, attempts, started)
                return replace(row, request=request)
            if error.fatal:
                raise _Fatal(str(error))
            if error.systemic:
                self._systemic(str(error))
            refused = wait_refused(error.retry_after) if error.retryable else None
            if refused or not error.retryable or attempts > self.options.max_retries:
                latency_ms = (time.perf_counter() - t0) * 1000
                message = refused or str(error)
                row = _error_row(prompt_id, sample, message, latency_ms, attempts, started)
                return replace(row, request=request)
            await asyncio.sleep(backoff(attempts, error.retry_after))

    def _systemic(self, message: str) -> None:
        """Count a failure every call would hit; SYSTEMIC_STOP identical ones in a row, with
        no success between them, stop the run (no point in storing it for every case)."""
        last, count = self._streak
        self._streak = (message, count + 1 if message == last else 1)
        if self._streak[1] >= SYSTEMIC_STOP:
            raise _Fatal(f"{message} ({SYSTEMIC_STOP} calls in a row)")

    async def _flush(self) -> None:
        if not self._results:
            return
        rows, self._results = self._results, []
        async with self.conn.cursor() as cur:
            async with cur.copy(_result_copy()) as copy:
                for row in rows:
                    await copy.write_row(row.values())
            await cur.execute(
                queries.get("result_write"),
                {"run_id": self.run_id, "worker": self.worker_id, "model_id": self.model_id},
            )
            written = [ok for (ok,) in await cur.fetchall()]
        await self.conn.commit()
        ok = sum(written)
        self.outcome.ok += ok
        self.outcome.errors += len(written) - ok
        self.outcome.dropped += len(rows) - len(written)
        for row in rows:
            if row.error is not None and len(self.outcome.error_samples) < 5:
                self.outcome.error_samples.append(row.error)
        if self.on_written:
            self.on_written(ok, len(written) - ok)


def _ok_row(
    prompt_id: int,
    sample: int,
    result: Result,
    latency_ms: float,
    attempts: int,
    started: datetime,
) -> Response:
    try:
        output = _json_text(result.output)
        metadata = _json_text(result.metadata or {})
    except ValueError as exc:
        return _error_row(
            prompt_id, sample, f"output is not storable JSON: {exc}", latency_ms, attempts, started
        )
    text = result.output_text
    return Response(
        prompt_id=prompt_id,
        sample=sample,
        status="ok",
        output=output,
        output_text=_no_nul(text) if text is not None else None,
        error=None,
        latency_ms=latency_ms,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        tokens_estimated=result.tokens_estimated,
        attempts=attempts,
        metadata=metadata,
        started_at=started,
        first_token_ms=_first_token_ms(result.first_token_ms, latency_ms),
    )


def _first_token_ms(value: Any, latency_ms: float) -> float | None:
    """A streamed answer's time to first token as stored: a number from 0 to the call's
    latency (a Python model's Result may say anything), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        return None
    return min(float(value), latency_ms)


def _error_row(
    prompt_id: int, sample: int, message: str, latency_ms: float, attempts: int, started: datetime
) -> Response:
    return Response(
        prompt_id=prompt_id,
        sample=sample,
        status="error",
        output=None,
        output_text=None,
        error=_no_nul(message) or "error",
        latency_ms=latency_ms,
        input_tokens=None,
        output_tokens=None,
        tokens_estimated=False,
        attempts=attempts,
        metadata="{}",
        started_at=started,
    )


def _json_text(value: Any) -> str:
    """JSON text that jsonb accepts: no NaN or Infinity, and no \\u0000 (replaced by U+FFFD)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if "\\u0000" in text:
        text = json.dumps(_strip_nul(value), ensure_ascii=False, allow_nan=False)
    return text


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return _no_nul(value)
    if isinstance(value, dict):
        return {_no_nul(str(k)): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strip_nul(v) for v in value]
    return value


def _no_nul(text: str) -> str:
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def cache_mode(target: RunTarget, cache: bool | None, cache_only: bool) -> str:
    """The worker's use of the response cache: "only" with --cache-only, else "on" or
    "off" as --cache/--no-cache say (None: not said); by default on for models behind an
    API and off for python and command models, whose code can change under the same name."""
    if cache_only:
        return "only"
    if cache is None:
        cache = target.snapshot.get("adapter") not in ("python", "command")
    return "on" if cache else "off"


def answer(
    url: str,
    target: RunTarget,
    adapter: Adapter,
    options: CallOptions,
    on_written: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Answer a run's queue in this process with one worker, until it is empty, the worker
    stops on a fatal error, or SIGINT/SIGTERM stop it (those only on the main thread).

    Works from a program that already runs an event loop (a notebook): the worker then gets
    its own loop in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_answer_run(url, target, adapter, options, on_written))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(
            asyncio.run, _answer_run(url, target, adapter, options, on_written)
        ).result()


async def _answer_run(
    url: str,
    target: RunTarget,
    adapter: Adapter,
    options: CallOptions,
    on_written: Callable[[int, int], None] | None,
) -> Outcome:
    conn = await db.connect_async(url)
    async with conn:
        worker = Worker(
            conn, target.id, target.model_id, adapter, options, on_written, target.template
        )
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        handled = threading.current_thread() is threading.main_thread()
        if handled:
            for sig in signals:
                loop.add_signal_handler(sig, worker.stop)
        try:
            return await worker.work()
        finally:
            if handled:
                for sig in signals:
                    loop.remove_signal_handler(sig)
