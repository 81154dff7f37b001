"""Dynamic batching for one model version: items queue by priority, idle lanes take what is queued.

A lane that finds the model idle dispatches at once, never waiting for a batch that is not
coming; while another batch is in flight it waits up to `max_delay_s` to fill its batch.
Interactive items (priority 0) leave the queue before background ones. An item whose caller
gives up while it is still queued is dropped; one already running finishes and is discarded.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from fovea.runtime.limiter import PriorityLimiter

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class BatchTiming:
    """What one item saw: time queued, time its batch ran, its share of the batch's CPU time,
    and the batch's size."""

    queue_ms: float
    infer_ms: float
    batch_size: int
    cpu_ms: float = 0.0


@dataclass(eq=False)
class _Pending(Generic[In, Out]):
    item: In
    priority: int
    queued_at: float = field(default_factory=time.perf_counter)
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Out | None = None
    error: BaseException | None = None
    timing: BatchTiming | None = None
    abandoned: bool = False


class _Queue(Generic[In, Out]):
    """A priority queue for one event loop: `get` waits until an item (or the close) arrives."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, _Pending[In, Out]]] = []
        self._seq = itertools.count()
        self._nonempty = anyio.Event()
        self.closed = False

    def __len__(self) -> int:
        return sum(not p.abandoned for _, _, p in self._heap)

    def put(self, pending: _Pending[In, Out]) -> None:
        heapq.heappush(self._heap, (pending.priority, next(self._seq), pending))
        self._nonempty.set()

    def get_nowait(self) -> _Pending[In, Out]:
        while self._heap:
            pending = heapq.heappop(self._heap)[2]
            if not pending.abandoned:
                return pending
        if self._nonempty.is_set():
            self._nonempty = anyio.Event()  # waiters woken by the old one wait on this
        raise anyio.WouldBlock

    async def get(self) -> _Pending[In, Out]:
        while True:
            try:
                return self.get_nowait()
            except anyio.WouldBlock:
                if self.closed:
                    raise anyio.EndOfStream from None
                await self._nonempty.wait()

    def close(self) -> None:
        self.closed = True
        self._nonempty.set()


class Batcher(Generic[In, Out]):
    """Runs `run(batch) -> results` in worker threads, `lanes` batches at a time."""

    def __init__(
        self,
        run: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_batch_size: int,
        max_delay_s: float,
        lanes: int,
    ) -> None:
        self.run, self.max_batch_size, self.max_delay_s = run, max_batch_size, max_delay_s
        self.lanes = lanes
        self.in_flight = 0  # batches running now
        self.limiter = anyio.CapacityLimiter(lanes)
        # Images allowed between decode and the end of inference: every lane busy, plus as much
        # again waiting, is enough to keep the model fed; interactive images get slots first.
        self.slots = PriorityLimiter(2 * lanes * max_batch_size)
        self._queue: _Queue[In, Out] = _Queue()
        self.on_batch: Callable[[int], None] | None = None

    def start(self, group: TaskGroup) -> None:
        for _ in range(self.lanes):
            group.start_soon(self._lane)

    def close(self) -> None:
        """Lanes finish the batch in hand and stop; queued items are left to their callers."""
        self._queue.close()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def submit(self, item: In, priority: int = 0) -> tuple[Out, BatchTiming]:
        pending: _Pending[In, Out] = _Pending(item, priority)
        self._queue.put(pending)
        try:
            await pending.done.wait()
        except BaseException:
            pending.abandoned = True  # still queued: no lane will take it
            raise
        if pending.error is not None:
            raise pending.error
        assert pending.timing is not None
        return pending.result, pending.timing  # type: ignore[return-value]

    async def _lane(self) -> None:
        while True:
            try:
                first = await self._queue.get()
            except anyio.EndOfStream:
                return
            await self._dispatch(await self._fill([first]))

    async def _fill(self, batch: list[_Pending[In, Out]]) -> list[_Pending[In, Out]]:
        # Wait for more only while another batch keeps the model busy: then more are coming.
        deadline = time.perf_counter() + (self.max_delay_s if self.in_flight else 0.0)
        while len(batch) < self.max_batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except anyio.WouldBlock:
                pass
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            with anyio.move_on_after(remaining):
                try:
                    batch.append(await self._queue.get())
                except anyio.EndOfStream:
                    break
        return batch

    async def _dispatch(self, batch: list[_Pending[In, Out]]) -> None:
        self.in_flight += 1
        started = time.perf_counter()
        cpu_s = [0.0]

        def run(items: list[In]) -> Sequence[Out]:
            cpu = time.thread_time()
            try:
                return self.run(items)
            finally:
                cpu_s[0] = time.thread_time() - cpu

        try:
            results = await anyio.to_thread.run_sync(
                run, [p.item for p in batch], limiter=self.limiter
            )
        except Exception as exc:  # every item of the batch gets the batch's error
            for pending in batch:
                pending.error = exc
        else:
            for pending, result in zip(batch, results, strict=True):
                pending.result = result
        finally:
            self.in_flight -= 1
            infer_ms = (time.perf_counter() - started) * 1000
            for pending in batch:  # also when the lane itself is cancelled: nobody waits forever
                if pending.result is None and pending.error is None:
                    pending.error = RuntimeError("the model's batcher stopped")
                queue_ms = (started - pending.queued_at) * 1000
                share = cpu_s[0] * 1000 / len(batch)
                pending.timing = BatchTiming(
                    round(queue_ms, 3), round(infer_ms, 3), len(batch), round(share, 3)
                )
                pending.done.set()
        if self.on_batch is not None:
            self.on_batch(len(batch))
