"""A one-line progress display on stderr, shown only on a terminal."""

import sys
import time


class Progress:
    """Counts rows and bytes and redraws `LABEL: ROWS rows  RATE rows/s  MB` at most ten
    times a second. Silent when stderr is not a terminal or when `enabled` is false.
    As a context manager, it erases its line on exit."""

    def __init__(self, label: str, total_bytes: int | None = None, *, enabled: bool = True) -> None:
        self.label = label
        self.total_bytes = total_bytes
        self.enabled = enabled and sys.stderr.isatty()
        self.rows = 0
        self.bytes = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def __call__(self, rows: int, nbytes: int) -> None:
        self.rows += rows
        self.bytes += nbytes
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Erase the line, leaving the terminal clean for the summary."""
        if self.enabled and self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()

    def _draw(self, now: float) -> None:
        rate = self.rows / max(now - self._start, 1e-9)
        size = f"{self.bytes / 1e6:,.1f}"
        if self.total_bytes:
            size += f" / {self.total_bytes / 1e6:,.1f}"
        sys.stderr.write(f"\r\x1b[K{self.label}: {self.rows:,} rows  {rate:,.0f} rows/s  {size} MB")
        sys.stderr.flush()
