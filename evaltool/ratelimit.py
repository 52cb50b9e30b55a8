"""Request and token rate limits for model calls (token buckets, per process)."""

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimit:
    """At most `per_minute` units a minute, spread evenly: bursts up to one second's worth.

    A caller that needs more than a burst (a long prompt against a token limit) waits for
    a full bucket and takes the rest as debt, which later callers wait out, so the average
    rate holds.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.burst = max(self.rate, 1.0)
        self.level = self.burst
        self._clock = clock  # a test's clock, so that no test depends on the machine's speed
        self._sleep = sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until `amount` (at most a burst) is available, then take it; first come,
        first served."""
        need = min(amount, self.burst)
        async with self._lock:
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= amount
                    return
                await self._sleep((need - self.level) / self.rate)

    def adjust(self, amount: float) -> None:
        """Take `amount` more (or give back, when negative) once the true cost is known."""
        self._refill()
        self.level -= amount

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.burst, self.level + (now - self._stamp) * self.rate)
        self._stamp = now
