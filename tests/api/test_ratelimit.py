from __future__ import annotations

import pytest

from fovea.api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock)  # one a second, bursts of 60
    assert all(limiter.acquire("a") == 0 for _ in range(60))
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0
