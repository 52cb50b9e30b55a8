"""Progress on stderr: a bar on a terminal, a plain line now and then elsewhere.

On a terminal (stderr is a tty), tqdm draws one line with counts, rate and ETA that fits
the terminal's width, and erases it when the work ends. Elsewhere (a CI log, a pipe)
nothing is drawn: a plain line says how far the work has come every
EVALTOOL_PROGRESS_INTERVAL seconds (default 10), so that a log shows life and work that
ends sooner prints nothing. A step that counts nothing (the database inserting what a load
staged, a SQL scorer) is a phase: the display names it and counts its seconds, with a
spinner on a terminal, until counting resumes.

Progress counts rows and bytes (loads, imports), TaskProgress finished tasks out of a total
(runs, scoring, judging, archiving), and Step shows one step that counts nothing.
"""

import io
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Self

from tqdm import tqdm

INTERVAL_VARIABLE = "EVALTOOL_PROGRESS_INTERVAL"
INTERVAL = 10.0  # seconds between plain lines, unless INTERVAL_VARIABLE says otherwise
TICK = 0.2  # seconds between redraws on a terminal, so that a phase's seconds move
SPINNER = "|/-\\"


def interval() -> float:
    """Seconds between plain lines: EVALTOOL_PROGRESS_INTERVAL, if a positive number."""
    try:
        seconds = float(os.environ.get(INTERVAL_VARIABLE, INTERVAL))
    except ValueError:
        return INTERVAL
    return seconds if seconds > 0 else INTERVAL


def enter_phase(progress: Callable[..., None], name: str) -> None:
    """Tell a display that a step without counts began; a plain callback ignores it."""
    phase = getattr(progress, "phase", None)
    if phase is not None:
        phase(name)


class _Bar(tqdm):
    """tqdm with the fields of evaltool's formats, given by `fields` (of tqdm's own)."""

    monitor_interval = 0  # the display's ticker redraws; no monitor thread of tqdm's

    def __init__(
        self, fields: Callable[[Mapping[str, Any]], dict[str, Any]], **kwargs: Any
    ) -> None:
        self.fields = fields
        super().__init__(**kwargs)
        # A terminal of no size (a bare pty) is one of unknown size, not of none. Where the
        # flag is set, tqdm replaces it with a function of the file (its stubs know only the
        # flag; a disabled bar has neither).
        shape: Callable[[Any], tuple[int, int]] | bool = getattr(self, "dynamic_ncols", False)
        if callable(shape):

            def known(fp: Any) -> tuple[int | None, int | None]:
                cols, rows = shape(fp)
                return (cols if cols and cols > 0 else None), (rows if rows and rows > 0 else None)

            self.dynamic_ncols = known  # type: ignore[assignment]
            self.ncols, self.nrows = known(self.fp)
            self.refresh()  # tqdm drew nothing on a terminal it took for one of no rows

    @property
    def format_dict(self) -> MutableMapping[str, Any]:
        own = super().format_dict
        return {**own, **self.fields(own)}


# a thread lock: tqdm's default also makes a multiprocessing lock, which evaltool never needs
_Bar.set_lock(threading.RLock())


class _Nowhere(io.TextIOBase):
    """Where tqdm draws when stderr is not a terminal: the plain lines are written instead."""

    def write(self, text: str) -> int:
        return len(text)


class _Display:
    """A tqdm bar on a terminal, a plain line every interval() seconds elsewhere, nothing
    when not `enabled`. Subclasses say what they count and how it reads."""

    def __init__(
        self, label: str, total: int | None, *, enabled: bool, phase: str | None = None
    ) -> None:
        self.label = label
        self.enabled = enabled
        self.terminal = enabled and sys.stderr.isatty()
        self._out = sys.stderr
        self._phase = phase
        self._phase_start = time.monotonic()
        self._spin = 0
        self._bar = _Bar(
            self._fields,
            total=total,
            desc=label,
            file=sys.stderr if self.terminal else _Nowhere(),
            disable=not enabled,
            leave=False,
            dynamic_ncols=self.terminal,
            # elsewhere tqdm never draws, and its rate is then the average since the start
            mininterval=0.1 if self.terminal else float("inf"),
            bar_format=self._format(),
        )
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="evaltool-progress", daemon=True)
        if enabled:
            self._ticker.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop redrawing and erase the bar, leaving the terminal clean for the summary."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()
        self._bar.close()

    def phase(self, name: str) -> None:
        """Show the step `name` and its seconds instead of the counts, until the next count."""
        if self._phase is None and self._bar.n:
            self._bar.refresh()  # the last counts, which tqdm's rate limit may have skipped
        self._phase, self._phase_start = name, time.monotonic()
        self._redraw()

    def _count(self, n: int) -> None:
        if not n:
            return
        if self._phase is not None:
            self._phase = None
            self._redraw()
        self._bar.update(n)

    def _redraw(self) -> None:
        self._bar.bar_format = self._format()
        self._bar.refresh()

    def _tick(self) -> None:
        if self.terminal:
            while not self._stop.wait(TICK):
                self._spin += 1
                # never waits long for the lock: an interrupted draw may hold it
                self._bar.refresh(lock_args=(True, TICK))
            return
        while not self._stop.wait(interval()):
            line = self._bar.format_meter(**{**self._bar.format_dict, "bar_format": self._plain()})
            self._out.write(line + "\n")
            self._out.flush()

    def _format(self) -> str:
        if self._phase is not None:
            return "{desc}: {counted}{phase} {spinner} {phase_elapsed}"
        return self._counting()

    def _plain(self) -> str:
        if self._phase is not None:
            return "{desc}: {counted}{phase} ({phase_elapsed})"
        return self._counting_plain()

    def _fields(self, own: Mapping[str, Any]) -> dict[str, Any]:
        counted = self._counted()
        return {
            **self._values(own),
            "counted": f"{counted}; " if counted else "",
            "phase": self._phase,
            "phase_elapsed": tqdm.format_interval(time.monotonic() - self._phase_start),
            "spinner": SPINNER[self._spin % len(SPINNER)],
        }

    def _counting(self) -> str:
        raise NotImplementedError

    def _counting_plain(self) -> str:
        raise NotImplementedError

    def _counted(self) -> str:
        """What was counted so far, shown beside a phase; empty before the first count."""
        raise NotImplementedError

    def _values(self, own: Mapping[str, Any]) -> dict[str, Any]:
        """The subclass's fields of its formats, from tqdm's `format_dict`."""
        raise NotImplementedError


class Progress(_Display):
    """Counts rows and bytes: `LABEL: PCT|bar| MB / MB  ROWS rows  RATE rows/s  ETA`, the bar
    and ETA where `total_bytes` is known (files of known size)."""

    def __init__(self, label: str, total_bytes: int | None = None, *, enabled: bool = True) -> None:
        self.total_bytes = total_bytes
        self.rows = 0
        self.bytes = 0
        super().__init__(label, total_bytes, enabled=enabled)

    def __call__(self, rows: int, nbytes: int) -> None:
        self.rows += rows
        self.bytes += nbytes
        if self.total_bytes is not None and self.bytes > self.total_bytes:
            # more than the files hold (records reshaped in Python): no share, no ETA
            self.total_bytes = self._bar.total = None
            self._bar.bar_format = self._format()
        self._count(nbytes)

    def _counting(self) -> str:
        if self.total_bytes:
            return (
                "{desc}: {percentage:3.0f}%|{bar}| {mb} MB  {rows} rows  {rows_rate} rows/s"
                "  ETA {remaining}"
            )
        return "{desc}: {rows} rows  {rows_rate} rows/s  {mb} MB  {elapsed}"

    def _counting_plain(self) -> str:
        if self.total_bytes:
            return (
                "{desc}: {rows} rows, {rows_rate} rows/s, {mb} MB ({percentage:.0f}%),"
                " ETA {remaining}"
            )
        return "{desc}: {rows} rows, {rows_rate} rows/s, {mb} MB"

    def _counted(self) -> str:
        return f"{self.rows:,} rows" if self.rows else ""

    def _values(self, own: Mapping[str, Any]) -> dict[str, Any]:
        mb = f"{self.bytes / 1e6:,.1f}"
        if self.total_bytes:
            mb += f" / {self.total_bytes / 1e6:,.1f}"
        elapsed = own["elapsed"]
        return {
            "rows": f"{self.rows:,}",
            "rows_rate": f"{self.rows / elapsed:,.0f}" if elapsed else "?",
            "mb": mb,
        }


class TaskProgress(_Display):
    """Counts finished tasks: `LABEL: PCT|bar| DONE/TOTAL  RATE/s  ETA  errors N`; `unit`
    names them in plain lines and beside a phase."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, unit: str = "") -> None:
        self.total = total
        self.unit = unit
        self.done = 0
        self.errors = 0
        super().__init__(label, total, enabled=enabled)

    def __call__(self, ok: int, errors: int) -> None:
        self.done += ok + errors
        self.errors += errors
        self._count(ok + errors)

    def _counting(self) -> str:
        return (
            "{desc}: {percentage:3.0f}%|{bar}| {done}/{all}  {speed}/s  ETA {remaining}"
            "  errors {errors}"
        )

    def _counting_plain(self) -> str:
        return (
            "{desc}: {done}/{all}{units} ({percentage:.0f}%), {speed}{units}/s, ETA {remaining},"
            " errors {errors}"
        )

    def _counted(self) -> str:
        return f"{self.done:,}/{self.total:,}{self._unit()}" if self.done else ""

    def _values(self, own: Mapping[str, Any]) -> dict[str, Any]:
        rate = own["rate"]
        if rate is None and own["elapsed"]:
            rate = self.done / own["elapsed"]
        return {
            "done": f"{self.done:,}",
            "all": f"{self.total:,}",
            "units": self._unit(),
            "speed": f"{rate:,.1f}" if rate is not None else "?",
            "errors": f"{self.errors:,}",
        }

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""


class Step(_Display):
    """A step that counts nothing, such as one SQL statement: `LABEL: NAME | SECONDS`."""

    def __init__(self, label: str, name: str, *, enabled: bool = True) -> None:
        super().__init__(label, None, enabled=enabled, phase=name)

    def _counting(self) -> str:
        return "{desc}"  # never shown: a step has no counts to go back to

    def _counting_plain(self) -> str:
        return "{desc}"

    def _counted(self) -> str:
        return ""

    def _values(self, own: Mapping[str, Any]) -> dict[str, Any]:
        return {}
