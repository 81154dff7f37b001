"""The batcher: fill, deadline, errors, priorities and a caller who gives up while queued."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import anyio
import pytest

from fovea.runtime.batcher import Batcher

pytestmark = pytest.mark.anyio


class Model:
    """Records each batch; the first batch blocks until `release` is set (a busy model)."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def __call__(self, batch: Sequence[int]) -> list[int]:
        self.batches.append(list(batch))
        if len(self.batches) == 1:
            self.started.set()
            self.release.wait(5)
        if self.fail:
            raise ValueError("the model broke")
        return [x * 10 for x in batch]


async def _busy(batcher: Batcher[int, int], model: Model, results: dict[int, int]) -> None:
    """Submit item 0 and wait until the model is running it."""

    async def submit(item: int, priority: int = 0) -> None:
        results[item] = (await batcher.submit(item, priority))[0]

    async with anyio.create_task_group() as group:
        group.start_soon(submit, 0)
        await anyio.to_thread.run_sync(model.started.wait, 5)
        group.cancel_scope.cancel()


async def test_an_idle_model_runs_at_once_and_a_busy_one_fills_a_batch() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, max_batch_size=4, max_delay_s=0.5, lanes=1)
    timings = {}
    async with anyio.create_task_group() as group:
        batcher.start(group)

        async def submit(item: int) -> None:
            timings[item] = await batcher.submit(item)

        group.start_soon(submit, 0)
        await anyio.to_thread.run_sync(model.started.wait, 5)
        for item in (1, 2, 3, 4, 5):
            group.start_soon(submit, item)
        await anyio.sleep(0.05)
        model.release.set()
        with anyio.fail_after(5):
            while len(timings) < 6:
                await anyio.sleep(0.01)
        batcher.close()
    assert model.batches == [[0], [1, 2, 3, 4], [5]]  # alone at once; then full batches
    assert {item: t[0] for item, t in timings.items()} == {i: i * 10 for i in range(6)}
    assert [timings[i][1].batch_size for i in range(6)] == [1, 4, 4, 4, 4, 1]


async def test_a_lane_waits_at_most_the_deadline_for_more() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, max_batch_size=8, max_delay_s=0.2, lanes=2)
    done: dict[int, float] = {}
    async with anyio.create_task_group() as group:
        batcher.start(group)

        async def submit(item: int) -> None:
            await batcher.submit(item)
            done[item] = anyio.current_time()

        group.start_soon(submit, 0)  # lane one: runs alone and blocks
        await anyio.to_thread.run_sync(model.started.wait, 5)
        began = anyio.current_time()
        group.start_soon(submit, 1)  # lane two: the model is busy, so it waits to fill
        await anyio.sleep(0.05)
        group.start_soon(submit, 2)  # arrives inside the deadline: same batch
        with anyio.fail_after(5):
            while 2 not in done:
                await anyio.sleep(0.01)
        model.release.set()
        batcher.close()
    assert model.batches[1] == [1, 2]
    assert 0.15 <= done[2] - began < 2.0  # dispatched at the deadline, not when full


async def test_every_item_of_a_failed_batch_gets_the_error() -> None:
    model = Model(fail=True)
    model.release.set()
    batcher: Batcher[int, int] = Batcher(model, max_batch_size=4, max_delay_s=0, lanes=1)
    errors: list[str] = []
    async with anyio.create_task_group() as group:
        batcher.start(group)

        async def submit(item: int) -> None:
            with pytest.raises(ValueError, match="the model broke") as caught:
                await batcher.submit(item)
            errors.append(str(caught.value))

        for item in range(3):
            group.start_soon(submit, item)
        with anyio.fail_after(5):
            while len(errors) < 3:
                await anyio.sleep(0.01)
        batcher.close()
    assert errors == ["the model broke"] * 3


async def test_a_caller_who_gives_up_while_queued_is_never_run() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, max_batch_size=4, max_delay_s=0, lanes=1)
    results: dict[int, int] = {}
    async with anyio.create_task_group() as group:
        batcher.start(group)

        async def submit(item: int) -> None:
            results[item] = (await batcher.submit(item))[0]

        group.start_soon(submit, 0)
        await anyio.to_thread.run_sync(model.started.wait, 5)
        with anyio.move_on_after(0.05):  # the client disconnects while item 1 is queued
            await batcher.submit(1)
        group.start_soon(submit, 2)
        await anyio.sleep(0.02)
        assert batcher.queued == 1  # the abandoned item no longer counts
        model.release.set()
        with anyio.fail_after(5):
            while 2 not in results:
                await anyio.sleep(0.01)
        batcher.close()
    assert model.batches == [[0], [2]]
    assert results == {0: 0, 2: 20}


async def test_interactive_items_leave_the_queue_before_background_ones() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, max_batch_size=2, max_delay_s=0, lanes=1)
    results: dict[int, int] = {}
    async with anyio.create_task_group() as group:
        batcher.start(group)

        async def submit(item: int, priority: int) -> None:
            results[item] = (await batcher.submit(item, priority))[0]

        group.start_soon(submit, 0, 1)
        await anyio.to_thread.run_sync(model.started.wait, 5)
        for item in (1, 2, 3):  # background work queued first
            group.start_soon(submit, item, 1)
        await anyio.sleep(0.02)
        group.start_soon(submit, 9, 0)  # then one interactive request
        await anyio.sleep(0.02)
        model.release.set()
        with anyio.fail_after(5):
            while len(results) < 5:
                await anyio.sleep(0.01)
        batcher.close()
    assert model.batches == [[0], [9, 1], [2, 3]]
