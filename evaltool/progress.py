"""One-line progress displays on stderr, shown only on a terminal."""

import sys
import time
from typing import Self


class _StatusLine:
    """Redraws one line at most ten times a second; erases it on close. Silent when stderr
    is not a terminal or when `enabled` is false."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._start = time.monotonic()
        self._drawn = 0.0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Erase the line, leaving the terminal clean for the summary."""
        if self.enabled and self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def _maybe_draw(self) -> None:
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            sys.stderr.write(f"\r\x1b[K{self._line(max(now - self._start, 1e-9))}")
            sys.stderr.flush()

    def _line(self, elapsed: float) -> str:
        raise NotImplementedError


class Progress(_StatusLine):
    """Counts rows and bytes: `LABEL: ROWS rows  RATE rows/s  MB`."""

    def __init__(self, label: str, total_bytes: int | None = None, *, enabled: bool = True) -> None:
        super().__init__(enabled=enabled)
        self.label = label
        self.total_bytes = total_bytes
        self.rows = 0
        self.bytes = 0

    def __call__(self, rows: int, nbytes: int) -> None:
        self.rows += rows
        self.bytes += nbytes
        self._maybe_draw()

    def _line(self, elapsed: float) -> str:
        size = f"{self.bytes / 1e6:,.1f}"
        if self.total_bytes:
            size += f" / {self.total_bytes / 1e6:,.1f}"
        return f"{self.label}: {self.rows:,} rows  {self.rows / elapsed:,.0f} rows/s  {size} MB"


class TaskProgress(_StatusLine):
    """Counts finished tasks: `LABEL: DONE/TOTAL  PCT  RATE/s  ETA  errors N`."""

    def __init__(self, label: str, total: int, *, enabled: bool = True) -> None:
        super().__init__(enabled=enabled)
        self.label = label
        self.total = total
        self.done = 0
        self.errors = 0

    def __call__(self, ok: int, errors: int) -> None:
        self.done += ok + errors
        self.errors += errors
        self._maybe_draw()

    def _line(self, elapsed: float) -> str:
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        eta = f"{int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 else "-"
        pct = 100 * self.done / self.total if self.total else 100.0
        return (
            f"{self.label}: {self.done:,}/{self.total:,}  {pct:.0f}%  {rate:,.1f}/s  "
            f"ETA {eta}  errors {self.errors:,}"
        )
