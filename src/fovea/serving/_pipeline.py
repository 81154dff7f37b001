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
from PIL import Image

from fovea.models import Prediction, Prepared, ServedModel
from fovea.runtime.limiter import PriorityLimiter
from fovea.serving._admission import Priority
from fovea.serving._batching import Batchers
from fovea.serving._sources import Local, image_of
from fovea.tasks import DecodeContext
from fovea.vision import Limits, load_image

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
            prediction, waited = await self.in_worker(
                lambda: self._whole(model, source, context, keep_image, keep_outputs), priority
            )
            return _stamp(prediction, queued_at, queue=waited)
        # Decoding runs ahead of inference only as far as the batcher's slots allow, so prepared
        # tensors (MBs each) never pile up in memory behind a busy model.
        async with batcher.slots.slot(priority):
            slot_wait = _since(queued_at)
            (prepared, image), waited = await self.in_worker(
                lambda: self._prepare(model, source, keep_image), priority
            )
            outputs, timing = await batcher.submit(prepared.tensor, priority)
        prepared.timing_ms["infer"] = timing.infer_ms
        prediction, _ = await self.in_worker(
            lambda: model.complete(prepared, outputs, context, image, keep_outputs=keep_outputs),
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

    def _whole(
        self,
        model: ServedModel,
        source: Local,
        context: DecodeContext,
        keep_image: bool,
        keep_outputs: bool,
    ) -> Prediction:
        prepared, image = self._prepare(model, source, keep_image)
        start = time.perf_counter()
        outputs = model.infer([prepared.tensor])[0]
        prepared.timing_ms["infer"] = _since(start)
        return model.complete(prepared, outputs, context, image, keep_outputs=keep_outputs)

    def _prepare(
        self, model: ServedModel, source: Local, keep_image: bool
    ) -> tuple[Prepared, Image.Image | None]:
        start = time.perf_counter()
        # A large JPEG decodes at reduced scale (all the model needs) unless it is to be drawn on.
        draft = None if keep_image else model.input_wh
        decoded = load_image(image_of(source, self.limits.max_bytes), self.limits, draft_wh=draft)
        decode_ms = _since(start)
        prepared = model.prepare(decoded)
        prepared.timing_ms = {"decode": decode_ms, **prepared.timing_ms}
        return prepared, decoded.image if keep_image else None


def _since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _stamp(prediction: Prediction, queued_at: float, queue: float) -> Prediction:
    prediction.timing_ms["queue"] = round(queue, 3)
    prediction.timing_ms["total"] = _since(queued_at)
    return prediction
