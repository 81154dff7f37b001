"""Serving: admission control, URL fetches, and each image's path through the worker threads
(decode and prepare), the model's batcher (infer) and the worker threads again (finish).
Nothing here runs model or image work on the event loop.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio
import httpx
import numpy as np
import numpy.typing as npt
from anyio.abc import TaskGroup

from fovea.errors import FoveaError, Overloaded, TooManyImages
from fovea.fetch import FetchPolicy, fetch
from fovea.model import Outputs, Prediction, PredictParams, Prepared, ServedModel
from fovea.repository import Repository
from fovea.results import Result
from fovea.runtime.batcher import Batcher
from fovea.runtime.onnx import CPU
from fovea.vision.io import Limits

T = TypeVar("T")
Tensor = npt.NDArray[np.generic]


@dataclass(frozen=True)
class ImageInput:
    """One image of a request: its bytes, or a URL to fetch them from."""

    id: str
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True)
class ItemOutcome:
    id: str
    prediction: Prediction | None = None
    error: FoveaError | None = None


class Observer(Protocol):
    """Receives what happened to each image and batch (the API's metrics implement it)."""

    def observe_prediction(self, model: str, timing_ms: Mapping[str, float], ok: bool) -> None: ...

    def observe_batch(self, model: str, size: int) -> None: ...


class PredictService:
    """What the API calls: worker threads, one batcher per model version, an HTTP client."""

    def __init__(
        self,
        repository: Repository,
        limits: Limits,
        fetch_policy: FetchPolicy,
        workers: int,
        max_images: int,
        observer: Observer | None = None,
    ) -> None:
        self.repository, self.limits, self.fetch_policy = repository, limits, fetch_policy
        self.max_images, self.workers = max_images, workers
        self.limiter = anyio.CapacityLimiter(workers)
        self.http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.batchers: dict[tuple[str, str], Batcher[Tensor, Outputs]] = {}
        self.admitted: dict[str, int] = {}
        self.observer = observer

    def start(self, group: TaskGroup) -> None:
        for entry in self.repository.entries.values():
            for model in entry.served.values():
                batcher = self._batcher_for(model)
                if self.observer is not None:
                    batcher.on_batch = functools.partial(self.observer.observe_batch, model.name)
                batcher.start(group)
                self.batchers[(model.name, model.version)] = batcher

    async def aclose(self) -> None:
        for batcher in self.batchers.values():
            await batcher.aclose()
        await self.http.aclose()

    async def predict(
        self, model: ServedModel, inputs: Sequence[ImageInput], params: PredictParams
    ) -> list[ItemOutcome]:
        if len(inputs) > self.max_images:
            raise TooManyImages(f"{len(inputs)} images; the limit is {self.max_images} a request")
        model.check_params(params)
        outcomes: list[ItemOutcome | None] = [None] * len(inputs)

        async def run(index: int, item: ImageInput) -> None:
            try:
                data = await self.load(item)
                _, prediction = await self.run_one(model, data, params)
                outcomes[index] = ItemOutcome(item.id, prediction=prediction)
            except FoveaError as exc:
                outcomes[index] = ItemOutcome(item.id, error=exc)
                if self.observer is not None:
                    self.observer.observe_prediction(model.name, {}, ok=False)

        with self.admit(model, len(inputs)):
            async with anyio.create_task_group() as group:
                for index, item in enumerate(inputs):
                    group.start_soon(run, index, item)
        return [o for o in outcomes if o is not None]

    async def run_one(
        self,
        model: ServedModel,
        data: bytes,
        params: PredictParams,
        *,
        keep_full_image: bool = False,
    ) -> tuple[Prepared, Prediction]:
        """One image through prepare (thread), infer (batcher) and finish (thread)."""
        queued_at = time.perf_counter()
        batcher = self.batchers[(model.name, model.version)]
        if batcher.max_batch_size == 1:
            return await self._run_whole(model, data, params, keep_full_image, queued_at)
        # Decoding runs ahead of inference; the batcher's slots bound how far, so prepared
        # tensors (MBs each) never pile up in memory behind a busy model.
        async with batcher.slots:
            slot_wait = (time.perf_counter() - queued_at) * 1000
            prepared, waited = await self._in_worker(
                lambda: model.prepare(data, self.limits, keep_full_image=keep_full_image)
            )
            outputs, timing = await batcher.submit(prepared.tensor)
        prediction, _ = await self._in_worker(lambda: model.complete(prepared, outputs, params))
        prediction.timing_ms.update(
            queue=round(slot_wait + waited + timing.queue_ms, 3), infer=timing.infer_ms
        )
        prediction.timing_ms["total"] = round((time.perf_counter() - queued_at) * 1000, 3)
        if self.observer is not None:
            self.observer.observe_prediction(model.name, prediction.timing_ms, ok=True)
        return prepared, prediction

    async def _run_whole(
        self,
        model: ServedModel,
        data: bytes,
        params: PredictParams,
        keep_full_image: bool,
        queued_at: float,
    ) -> tuple[Prepared, Prediction]:
        """Unbatched: the whole pipeline in one worker thread. With nothing to stack, handing an
        image from decode threads to inference lanes and back only costs event-loop turns."""

        def whole() -> tuple[Prepared, Prediction]:
            return model.run(data, self.limits, params, keep_full_image=keep_full_image)

        (prepared, prediction), waited = await self._in_worker(whole)
        prediction.timing_ms["queue"] = round(waited, 3)
        prediction.timing_ms["total"] = round((time.perf_counter() - queued_at) * 1000, 3)
        if self.observer is not None:
            self.observer.observe_prediction(model.name, prediction.timing_ms, ok=True)
            self.observer.observe_batch(model.name, 1)
        return prepared, prediction

    async def render(
        self,
        model: ServedModel,
        data: bytes,
        params: PredictParams,
        draw: Callable[[Prepared, Result], bytes],
    ) -> bytes:
        with self.admit(model, 1):
            prepared, prediction = await self.run_one(model, data, params, keep_full_image=True)
            body, _ = await self._in_worker(lambda: draw(prepared, prediction.result))
            return body

    async def load(self, item: ImageInput) -> bytes:
        if item.data is not None:
            return item.data
        assert item.url is not None
        return await fetch(self.http, item.url, self.fetch_policy)

    def check_capacity(self, model: ServedModel) -> None:
        """Refuse before reading a body when the model has no room left."""
        with self.admit(model, 1):
            pass

    def admit(self, model: ServedModel, count: int) -> _Admission:
        return _Admission(self, model, count)

    def _batcher_for(self, model: ServedModel) -> Batcher[Tensor, Outputs]:
        batching = model.spec.batching
        size = batching.max_batch_size or (1 if model.onnx.providers == [CPU] else 8)
        # A graph fixed at batch 1 is never stacked; the lanes still run images side by side.
        size = size if model.onnx.fixed_batch is None else 1
        return Batcher(
            model.infer,
            max_batch_size=size,
            max_delay_s=batching.max_queue_delay_ms / 1000,
            lanes=self.workers,
        )

    async def _in_worker(self, function: Callable[[], T]) -> tuple[T, float]:
        """Run `function` in a worker thread; also return how long it waited for one (ms)."""
        queued_at = time.perf_counter()
        started: list[float] = []

        def timed() -> T:
            started.append(time.perf_counter())
            return function()

        result = await anyio.to_thread.run_sync(timed, limiter=self.limiter)
        return result, (started[0] - queued_at) * 1000


class _Admission:
    """Counts a request's images against the model's queue limit while it runs; memory stays
    bounded however far a batch overshoots, by the batcher's slots."""

    def __init__(self, service: PredictService, model: ServedModel, count: int) -> None:
        self.service, self.name, self.count = service, model.name, count
        self.limit = model.spec.batching.max_queue

    def __enter__(self) -> None:
        current = self.service.admitted.get(self.name, 0)
        # Admit while the model has room, whatever the request's size: a batch of images may
        # overshoot the limit once, but is never refused after its upload was read for nothing.
        if current >= self.limit:
            raise Overloaded(
                f"model {self.name!r} has {current} images in progress; its limit is {self.limit}"
            )
        self.service.admitted[self.name] = current + self.count

    def __exit__(self, *exc: object) -> None:
        self.service.admitted[self.name] -= self.count
