"""The priority limiter: a freed slot goes to the best waiter, and a cancelled one passes it on."""

from __future__ import annotations

import anyio
import pytest

from fovea.runtime.limiter import PriorityLimiter

pytestmark = pytest.mark.anyio


async def test_slots_go_to_interactive_waiters_first_then_in_arrival_order() -> None:
    limiter = PriorityLimiter(1)
    order: list[str] = []

    async def work(name: str, priority: int) -> None:
        async with limiter.slot(priority):
            order.append(name)
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        await limiter.acquire()  # the slot is taken: everyone below waits
        for name, priority in [("bg1", 1), ("bg2", 1), ("ui1", 0), ("ui2", 0)]:
            group.start_soon(work, name, priority)
            await anyio.sleep(0.005)
        assert limiter.waiting == 4
        limiter.release()
    assert order == ["ui1", "ui2", "bg1", "bg2"]
    assert limiter.in_use == 0


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    limiter = PriorityLimiter(1)
    got: list[str] = []
    await limiter.acquire()
    async with anyio.create_task_group() as group:
        with anyio.move_on_after(0.02):
            await limiter.acquire(0)  # gives up before a slot is free

        async def take() -> None:
            async with limiter.slot(1):
                got.append("later")

        group.start_soon(take)
        await anyio.sleep(0.01)
        limiter.release()
    assert got == ["later"]
    assert (limiter.in_use, limiter.waiting) == (0, 0)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PriorityLimiter(0)
