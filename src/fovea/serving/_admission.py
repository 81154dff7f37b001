"""Admission: how many images each model has in progress, against its `max_queue`, by priority.

Interactive requests (the API) are refused at once with 503 when the model is full: a client
should retry elsewhere rather than wait. Background work (batch jobs, video, explanation sweeps)
is never refused: it waits for room, and may hold at most half of the queue, so an interactive
request always finds room that background work cannot take.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from types import TracebackType

import anyio

from fovea.errors import Overloaded


class Priority(IntEnum):
    """Lower goes first, in admission, worker threads and batch queues alike."""

    INTERACTIVE = 0
    BACKGROUND = 1


class Ticket:
    """Images admitted for one model; give it back by leaving the `with` block."""

    def __init__(self, admission: Admission, model: str, count: int, priority: Priority) -> None:
        self.admission, self.model, self.count, self.priority = admission, model, count, priority
        self.on_release: Callable[[], None] | None = None  # the service's count of work in hand

    def grow(self, count: int) -> None:
        """Count more images against the same admission (a request's images, once read). An
        admitted request is never refused after its upload was read for nothing, so this may
        overshoot the limit once."""
        self.admission._add(self.model, count, self.priority)
        self.count += count

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.admission._add(self.model, -self.count, self.priority)
        self.count = 0
        if self.on_release is not None:
            self.on_release()
            self.on_release = None


class Admission:
    def __init__(self) -> None:
        self.in_progress: dict[str, int] = {}  # every priority, per model
        self.background: dict[str, int] = {}
        self._freed: anyio.Event | None = None  # made by the first waiter, in its event loop

    def admit(self, model: str, limit: int, count: int = 1) -> Ticket:
        """Interactive: admit now while the model has room, else raise Overloaded."""
        current = self.in_progress.get(model, 0)
        if current >= limit:
            raise Overloaded(
                f"model {model!r} has {current} images in progress; its limit is {limit}"
            )
        self._add(model, count, Priority.INTERACTIVE)
        return Ticket(self, model, count, Priority.INTERACTIVE)

    async def wait(self, model: str, limit: int, count: int = 1) -> Ticket:
        """Background: wait until the model has room for background work, then admit."""
        share = max(1, limit // 2)
        while self.background.get(model, 0) >= share or self.in_progress.get(model, 0) >= limit:
            if self._freed is None:
                self._freed = anyio.Event()
            await self._freed.wait()
        self._add(model, count, Priority.BACKGROUND)
        return Ticket(self, model, count, Priority.BACKGROUND)

    def _add(self, model: str, count: int, priority: Priority) -> None:
        self.in_progress[model] = self.in_progress.get(model, 0) + count
        if priority is Priority.BACKGROUND:
            self.background[model] = self.background.get(model, 0) + count
        if count < 0 and self._freed is not None:
            self._freed.set()  # wake every background waiter to look again
            self._freed = None
