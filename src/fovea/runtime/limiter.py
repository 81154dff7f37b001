"""A capacity limiter that serves waiters by priority (lower first), then in arrival order.

anyio's CapacityLimiter is FIFO: a burst of background work queued first would make an
interactive request wait behind all of it. Here a freed slot goes straight to the best waiter.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    event: anyio.Event = field(compare=False)
    granted: bool = field(default=False, compare=False)
    gone: bool = field(default=False, compare=False)


class PriorityLimiter:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.in_use = 0
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(not w.gone for w in self._waiters)

    @asynccontextmanager
    async def slot(self, priority: int = 0) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, priority: int = 0) -> None:
        if self.in_use < self.capacity and not self.waiting:
            self.in_use += 1
            return
        waiter = _Waiter(priority, next(self._seq), anyio.Event())
        heapq.heappush(self._waiters, waiter)
        try:
            await waiter.event.wait()
        except BaseException:
            waiter.gone = True
            if waiter.granted:  # handed a slot while being cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = heapq.heappop(self._waiters)
            if not waiter.gone:
                waiter.granted = True  # the slot moves to it; in_use stays the same
                waiter.event.set()
                return
        self.in_use -= 1
