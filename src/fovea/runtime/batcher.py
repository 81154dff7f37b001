"""Dynamic batching for one model version: requests queue, idle lanes take what is queued.

A lane that finds the model idle dispatches at once, never waiting for a batch that is not
coming; while another batch is in flight it waits up to `max_delay_s` to fill its batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class BatchTiming:
    """What one item saw: time queued, time its batch ran, and the batch's size."""

    queue_ms: float
    infer_ms: float
    batch_size: int


@dataclass(eq=False)
class _Pending(Generic[In, Out]):
    item: In
    queued_at: float = field(default_factory=time.perf_counter)
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Out | None = None
    error: BaseException | None = None
    timing: BatchTiming | None = None


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
        # again waiting, is enough to keep the model fed.
        self.slots = anyio.Semaphore(2 * lanes * max_batch_size)
        send, receive = anyio.create_memory_object_stream[_Pending[In, Out]](float("inf"))
        self._send: MemoryObjectSendStream[_Pending[In, Out]] = send
        self._receive: MemoryObjectReceiveStream[_Pending[In, Out]] = receive
        self.on_batch: Callable[[int], None] | None = None

    def start(self, group: TaskGroup) -> None:
        for _ in range(self.lanes):
            group.start_soon(self._lane, self._receive.clone())

    async def aclose(self) -> None:
        await self._send.aclose()
        await self._receive.aclose()

    @property
    def queued(self) -> int:
        return self._send.statistics().current_buffer_used

    async def submit(self, item: In) -> tuple[Out, BatchTiming]:
        pending: _Pending[In, Out] = _Pending(item)
        self._send.send_nowait(pending)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.timing is not None
        return pending.result, pending.timing  # type: ignore[return-value]

    async def _lane(self, receive: MemoryObjectReceiveStream[_Pending[In, Out]]) -> None:
        async with receive:
            async for first in receive:
                batch = await self._fill([first], receive)
                await self._dispatch(batch)

    async def _fill(
        self, batch: list[_Pending[In, Out]], receive: MemoryObjectReceiveStream[_Pending[In, Out]]
    ) -> list[_Pending[In, Out]]:
        # Wait for more only while another batch keeps the model busy: then more are coming.
        deadline = time.perf_counter() + (self.max_delay_s if self.in_flight else 0.0)
        while len(batch) < self.max_batch_size:
            try:
                batch.append(receive.receive_nowait())
                continue
            except anyio.WouldBlock:
                pass
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            with anyio.move_on_after(remaining):
                try:
                    batch.append(await receive.receive())
                except anyio.EndOfStream:
                    break
        return batch

    async def _dispatch(self, batch: list[_Pending[In, Out]]) -> None:
        self.in_flight += 1
        started = time.perf_counter()
        try:
            results = await anyio.to_thread.run_sync(
                self.run, [p.item for p in batch], limiter=self.limiter
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
        if self.on_batch is not None:
            self.on_batch(len(batch))
        for pending in batch:
            queue_ms = (started - pending.queued_at) * 1000
            pending.timing = BatchTiming(round(queue_ms, 3), round(infer_ms, 3), len(batch))
            pending.done.set()
