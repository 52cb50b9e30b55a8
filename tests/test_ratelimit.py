"""The token bucket behind --rpm and --tpm, on a clock of the test's own: the waits are
exact, whatever the machine's load."""

import asyncio

import pytest

from evaltool.ratelimit import RateLimit


class Clock:
    """Time that passes only when the bucket sleeps; it records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_large_request_goes_into_debt_that_later_ones_wait_out() -> None:
    clock = Clock()
    tokens = RateLimit(600, clock=clock, sleep=clock.sleep)  # 10 a second, bursts of 10

    async def main() -> tuple[float, float]:
        await tokens.acquire(30)  # a long prompt: allowed on a full bucket, 20 in debt
        first = clock.now
        await tokens.acquire(1)  # waits until the debt is paid and 1 is available: 2.1 s
        return first, clock.now

    first, second = asyncio.run(main())
    assert first == 0 and clock.sleeps == [pytest.approx(2.1)]
    assert second == pytest.approx(2.1)


def test_adjust_gives_back_an_overestimate() -> None:
    clock = Clock()
    tokens = RateLimit(600, clock=clock, sleep=clock.sleep)

    async def main() -> None:
        await tokens.acquire(10)  # estimated 10, the bucket is empty
        tokens.adjust(-10)  # the call used none
        await tokens.acquire(10)

    asyncio.run(main())
    assert clock.sleeps == []


def test_time_refills_the_bucket_at_the_rate() -> None:
    clock = Clock()
    tokens = RateLimit(60, clock=clock, sleep=clock.sleep)  # 1 a second, bursts of 1

    async def main() -> None:
        for _ in range(4):
            await tokens.acquire(1)

    asyncio.run(main())
    assert clock.sleeps == [pytest.approx(1.0)] * 3 and clock.now == pytest.approx(3.0)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)
