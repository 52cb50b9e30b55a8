"""Request and token rate limits for model calls (token buckets, per process)."""

import asyncio
import time


class RateLimit:
    """At most `per_minute` units a minute, spread evenly: bursts up to one second's worth.

    A caller may take more than is available (a long prompt against a token limit): the
    bucket goes into debt and later callers wait it out, so the average rate holds.
    """

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.burst = max(self.rate, 1.0)
        self.level = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until the bucket is out of debt, then take `amount` (first come, first served)."""
        async with self._lock:
            while True:
                self._refill()
                if self.level >= 0:
                    self.level -= amount
                    return
                await asyncio.sleep(-self.level / self.rate)

    def adjust(self, amount: float) -> None:
        """Take `amount` more (or give back, when negative) once the true cost is known."""
        self._refill()
        self.level -= amount

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self._stamp) * self.rate)
        self._stamp = now
