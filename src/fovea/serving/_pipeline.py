"""Pipeline execution: one image through decode + prepare (a worker thread), infer (the model's
batcher) and finish (a worker thread). Nothing here runs image or model work on the event loop.

A model that is not batched runs the whole image in one worker: with nothing to stack, handing
an image from decode threads to inference lanes and back only costs event-loop turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio

from fovea.models import Prediction, ServedModel
from fovea.runtime.limiter import PriorityLimiter
from fovea.serving._admission import Priority
from fovea.serving._batching import Batchers
from fovea.serving._sources import Local, image_of
from fovea.tasks import DecodeContext
from fovea.vision import Limits

T = TypeVar("T")


class Pipeline:
    def __init__(self, limits: Limits, workers: PriorityLimiter, batchers: Batchers) -> None:
        self.limits, self.workers, self.batchers = limits, workers, batchers

    async def run(
        self,
        model: ServedModel,
        source: Local,
        context: DecodeContext,
        priority: Priority = Priority.INTERACTIVE,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
    ) -> Prediction:
        """One image's prediction; `keep_image` decodes it at full resolution and returns it
        with the prediction, to draw on; `keep_outputs` returns the raw outputs too."""
        queued_at = time.perf_counter()
        batcher = self.batchers.get(model)
        if batcher.max_batch_size == 1:
            # Alone on the machine: this image may use every core for its inference.
            idle = self.workers.in_use == 0 and self.workers.waiting == 0

            def whole() -> Prediction:
                image = image_of(source, self.limits.max_bytes)
                return model.run(
                    image,
                    context,
                    self.limits,
                    keep_image=keep_image,
                    keep_outputs=keep_outputs,
                    idle=idle,
                )

            prediction, waited = await self.in_worker(whole, priority)
            return _stamp(prediction, queued_at, queue=waited)
        # Decoding runs ahead of inference only as far as the batcher's slots allow, so prepared
        # tensors (MBs each) never pile up in memory behind a busy model.
        async with batcher.slots.slot(priority):
            slot_wait = _since(queued_at)
            prepared, waited = await self.in_worker(
                lambda: model.load(
                    image_of(source, self.limits.max_bytes), self.limits, keep_image=keep_image
                ),
                priority,
            )
            raw, timing = await batcher.submit(prepared.tensor, priority)
        outputs = model.by_role(raw)
        prepared.clock.add("infer", timing.infer_ms, timing.cpu_ms)
        prediction, _ = await self.in_worker(
            lambda: model.complete(prepared, outputs, context, keep_outputs=keep_outputs),
            priority,
        )
        return _stamp(prediction, queued_at, queue=slot_wait + waited + timing.queue_ms)

    async def in_worker(
        self, function: Callable[[], T], priority: Priority = Priority.INTERACTIVE
    ) -> tuple[T, float]:
        """`function()` in a worker thread; also how long it waited for one (ms)."""
        queued_at = time.perf_counter()
        async with self.workers.slot(priority):
            waited = _since(queued_at)
            return await anyio.to_thread.run_sync(function), waited


def _since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _stamp(prediction: Prediction, queued_at: float, queue: float) -> Prediction:
    prediction.timing_ms["queue"] = round(queue, 3)
    prediction.timing_ms["total"] = _since(queued_at)
    return prediction
