"""The serving facade that the API, the CLI and background workloads call: it owns the worker
threads, the batchers, admission and the URL fetcher, and runs a request's images concurrently.

Admission is the caller's first step (`admit` for interactive requests, `admit_background` for
work that may wait), so that a request is refused before its upload is read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Protocol

import anyio
import httpx
import numpy as np
import numpy.typing as npt
from anyio.abc import TaskGroup
from PIL import Image

from fovea.core import Classes, Detections, Params
from fovea.errors import FoveaError
from fovea.models import PipelineModel, Prediction, Servable, ServedModel
from fovea.runtime.limiter import PriorityLimiter
from fovea.runtime.session import Session
from fovea.serving._admission import Admission, Priority, Ticket
from fovea.serving._batching import Batchers
from fovea.serving._fetch import FetchPolicy, fetch
from fovea.serving._pipeline import Pipeline
from fovea.serving._sources import Encoded, Frame, ImageInput, Local, Source, Url
from fovea.tasks import DecodeContext
from fovea.vision import Limits

Tensor = npt.NDArray[np.generic]


@dataclass(frozen=True)
class ItemOutcome:
    """One image's prediction, or the error that stopped it."""

    id: str
    prediction: Prediction | None = None
    error: FoveaError | None = None


class Observer(Protocol):
    """Receives what happened to each image and batch (the API's metrics implement it)."""

    def observe_prediction(
        self,
        model: str,
        timing_ms: Mapping[str, float],
        ok: bool,
        cpu_ms: Mapping[str, float] | None = None,
    ) -> None: ...

    def observe_batch(self, model: str, size: int) -> None: ...


class Service:
    """`async with Service(...) as service:` starts the batchers' lanes; leaving stops them."""

    def __init__(
        self,
        limits: Limits,
        fetch_policy: FetchPolicy,
        workers: int,
        observer: Observer | None = None,
    ) -> None:
        self.limits, self.fetch_policy, self.workers = limits, fetch_policy, workers
        self.observer = observer
        self.admission = Admission()
        # Admitted requests per served version: a retired version's batcher stops after its last.
        self._in_use: dict[Servable, int] = {}
        self._released: anyio.Event | None = None
        self._group: TaskGroup | None = None
        self._http: httpx.AsyncClient | None = None
        self._pipeline: Pipeline | None = None

    async def __aenter__(self) -> Service:
        self._group = await anyio.create_task_group().__aenter__()
        on_batch = self.observer.observe_batch if self.observer is not None else None
        batchers = Batchers(self._group, self.workers, on_batch)
        self._pipeline = Pipeline(self.limits, PriorityLimiter(self.workers), batchers)
        # The policy's time limit bounds a whole fetch; httpx's own (5 s per read) must not cut
        # a slow but allowed one short.
        timeout = httpx.Timeout(self.fetch_policy.timeout_s)
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        assert self._http is not None
        self.pipeline.batchers.close()
        await self._http.aclose()
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(kind, error, tb)

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("use the service inside `async with`")
        return self._pipeline

    def admit(self, model: Servable, count: int = 1) -> Ticket:
        """Admit interactive work now, or raise Overloaded (503) when the model is full."""
        return self._hold(
            model, self.admission.admit(model.name, model.spec.batching.max_queue, count)
        )

    async def admit_background(self, model: Servable, count: int = 1) -> Ticket:
        """Admit background work once the model has room for it; never refused."""
        ticket = await self.admission.wait(model.name, model.spec.batching.max_queue, count)
        return self._hold(model, ticket)

    async def retire(self, model: Servable) -> None:
        """Once the last admitted request for a version no longer served has finished, stop its
        batcher (a reload or unload calls this; new requests already get the new version)."""
        while self._in_use.get(model, 0) > 0:
            if self._released is None:
                self._released = anyio.Event()
            await self._released.wait()
        if isinstance(model, ServedModel):  # a pipeline's stages have the batchers
            self.pipeline.batchers.retire(model)

    def retire_later(self, models: Sequence[Servable], sessions: Sequence[Session]) -> None:
        """Retire versions in the background, then close the sessions they leave unused."""
        assert self._group is not None

        async def retire_all() -> None:
            for model in models:
                await self.retire(model)
            for session in sessions:
                await anyio.to_thread.run_sync(session.close)

        self._group.start_soon(retire_all)

    def _hold(self, model: Servable, ticket: Ticket) -> Ticket:
        self._in_use[model] = self._in_use.get(model, 0) + 1

        def release() -> None:
            left = self._in_use[model] = self._in_use[model] - 1
            if left == 0:
                del self._in_use[model]
                if self._released is not None:
                    self._released.set()
                    self._released = None

        ticket.on_release = release
        return ticket

    async def predict(
        self,
        model: Servable,
        inputs: Sequence[ImageInput],
        params: Params,
        priority: Priority = Priority.INTERACTIVE,
    ) -> list[ItemOutcome]:
        """Every image of a request, concurrently; a bad one becomes its own outcome's error."""
        context = model.context(params)  # an unknown class name fails the request, once
        outcomes: list[ItemOutcome] = [ItemOutcome(item.id) for item in inputs]

        async def one(index: int, item: ImageInput) -> None:
            try:
                prediction = await self.run(model, item.source, context, priority)
            except FoveaError as exc:
                outcomes[index] = ItemOutcome(item.id, error=exc)
            else:
                outcomes[index] = ItemOutcome(item.id, prediction=prediction)

        async with anyio.create_task_group() as group:
            for index, item in enumerate(inputs):
                group.start_soon(one, index, item)
        return outcomes

    async def run(
        self,
        model: Servable,
        source: Source,
        context: DecodeContext,
        priority: Priority = Priority.INTERACTIVE,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
    ) -> Prediction:
        """One image: fetched if it is a URL, then through the pipeline; observed either way."""
        try:
            local = await self.fetched(source)
            if isinstance(model, PipelineModel):
                prediction = await self._two_stage(model, local, context, priority, keep_image)
            else:
                prediction = await self.pipeline.run(
                    model,
                    local,
                    context,
                    priority,
                    keep_image=keep_image,
                    keep_outputs=keep_outputs,
                )
        except FoveaError:
            self._observe(model, {}, ok=False)
            raise
        self._observe(model, prediction.timing_ms, ok=True, cpu_ms=prediction.cpu_ms)
        return prediction

    async def _two_stage(
        self,
        model: PipelineModel,
        source: Local,
        context: DecodeContext,
        priority: Priority,
        keep_image: bool,
    ) -> Prediction:
        """The detector on the image, then the classifier on the crops of its boxes, each
        through its own model's batcher, concurrently."""
        detector, classifier = model.detector, model.classifier
        found = await self.run(detector, source, context, priority, keep_image=True)
        assert found.image is not None
        assert isinstance(found.result, Detections)
        image, dets = found.image, found.result
        crops, _ = await self.pipeline.in_worker(lambda: model.crops(image, dets), priority)
        classify = model.classifier_context()
        answers: list[Classes] = [Classes(np.zeros(0, np.int64), np.zeros(0, np.float32))] * len(
            crops
        )

        async def one(k: int, crop: Image.Image) -> None:
            frame = Frame(np.asarray(crop))
            result = (await self.run(classifier, frame, classify, priority)).result
            assert isinstance(result, Classes)
            answers[k] = result

        async with anyio.create_task_group() as group:
            for k, (_, crop) in enumerate(crops):
                group.start_soon(one, k, crop)
        result = model.attach(dets, [i for i, _ in crops], answers)
        return replace(found, result=result, image=image if keep_image else None)

    async def infer(
        self, model: ServedModel, batch: Tensor, priority: Priority = Priority.INTERACTIVE
    ) -> dict[str, Tensor]:
        """A ready tensor batch (N, ...) through the model's batching, item by item as images go,
        so raw tensors share the lanes, worker threads, queues and metrics of images. Every graph
        output, by name, with N first; the caller has admitted N items."""
        items: list[dict[str, Tensor]] = [{} for _ in range(len(batch))]

        async def one(index: int) -> None:
            items[index] = await self._infer_one(model, batch[index], priority)

        async with anyio.create_task_group() as group:
            for index in range(len(batch)):
                group.start_soon(one, index)
        if not items:
            return {name: np.empty((0,)) for name in model.session.output_names}
        if len(items) == 1:  # a view, not a copy: outputs are MBs
            return {name: array[None] for name, array in items[0].items()}
        return {name: np.stack([item[name] for item in items]) for name in items[0]}

    async def _infer_one(
        self, model: ServedModel, tensor: Tensor, priority: Priority
    ) -> dict[str, Tensor]:
        started = time.perf_counter()
        batcher = self.pipeline.batchers.get(model)
        try:
            if batcher.max_batch_size == 1:  # as the pipeline runs unbatched models: one worker
                outputs, waited = await self.pipeline.in_worker(
                    lambda: model.run_graph([tensor])[0], priority
                )
                infer_ms = round((time.perf_counter() - started) * 1000 - waited, 3)
                timing = {"queue": waited, "infer": infer_ms}
            else:
                async with batcher.slots.slot(priority):
                    outputs, batched = await batcher.submit(tensor, priority)
                timing = {"queue": batched.queue_ms, "infer": batched.infer_ms}
        except FoveaError:
            self._observe(model, {}, ok=False)
            raise
        self._observe(model, timing, ok=True)
        return outputs

    async def fetched(self, source: Source) -> Local:
        if not isinstance(source, Url):
            return source
        return Encoded(await self.download(source.url))

    async def download(self, url: str, policy: FetchPolicy | None = None) -> bytes:
        """The bytes at `url` under `policy` (default: the image inputs' policy)."""
        assert self._http is not None
        return await fetch(self._http, url, policy or self.fetch_policy)

    def _observe(
        self,
        model: Servable,
        timing_ms: Mapping[str, float],
        ok: bool,
        cpu_ms: Mapping[str, float] | None = None,
    ) -> None:
        if self.observer is not None:
            self.observer.observe_prediction(model.name, timing_ms, ok, cpu_ms)
            if (
                ok
                and isinstance(model, ServedModel)
                and self.pipeline.batchers.get(model).max_batch_size == 1
            ):
                self.observer.observe_batch(model.name, 1)  # whole-image runs skip the batcher
