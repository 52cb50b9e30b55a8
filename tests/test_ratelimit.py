"""The token bucket behind --rpm and --tpm."""

import asyncio
import time

from evaltool.ratelimit import RateLimit


def test_a_large_request_goes_into_debt_that_later_ones_wait_out() -> None:
    async def main() -> tuple[float, float]:
        tokens = RateLimit(600)  # 10 a second, bursts of 10
        start = time.monotonic()
        await tokens.acquire(30)  # a long prompt: allowed on a full bucket, 20 in debt
        first = time.monotonic() - start
        await tokens.acquire(1)  # waits until the debt is paid and 1 is available: 2.1 s
        return first, time.monotonic() - start

    first, second = asyncio.run(main())
    assert first < 0.5
    assert 2.0 <= second < 3.5


def test_adjust_gives_back_an_overestimate() -> None:
    async def main() -> float:
        tokens = RateLimit(600)
        await tokens.acquire(10)  # estimated 10, the bucket is empty
        tokens.adjust(-10)  # the call used none
        start = time.monotonic()
        await tokens.acquire(10)
        return time.monotonic() - start

    assert asyncio.run(main()) < 0.5
