"""The serving facade that the API, the CLI and background workloads call: it owns the worker
threads, the batchers, admission and the URL fetcher, and runs a request's images concurrently.

Admission is the caller's first step (`admit` for interactive requests, `admit_background` for
work that may wait), so that a request is refused before its upload is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import anyio
import httpx
from anyio.abc import TaskGroup

from fovea.core import Params
from fovea.errors import FoveaError
from fovea.models import Prediction, ServedModel
from fovea.runtime.limiter import PriorityLimiter
from fovea.serving._admission import Admission, Priority, Ticket
from fovea.serving._batching import Batchers
from fovea.serving._fetch import FetchPolicy, fetch
from fovea.serving._pipeline import Pipeline
from fovea.serving._sources import Encoded, ImageInput, Local, Source, Url
from fovea.tasks import DecodeContext
from fovea.vision import Limits


@dataclass(frozen=True)
class ItemOutcome:
    """One image's prediction, or the error that stopped it."""

    id: str
    prediction: Prediction | None = None
    error: FoveaError | None = None


class Observer(Protocol):
    """Receives what happened to each image and batch (the API's metrics implement it)."""

    def observe_prediction(self, model: str, timing_ms: Mapping[str, float], ok: bool) -> None: ...

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
        self._group: TaskGroup | None = None
        self._http: httpx.AsyncClient | None = None
        self._pipeline: Pipeline | None = None

    async def __aenter__(self) -> Service:
        self._group = await anyio.create_task_group().__aenter__()
        on_batch = self.observer.observe_batch if self.observer is not None else None
        batchers = Batchers(self._group, self.workers, on_batch)
        self._pipeline = Pipeline(self.limits, PriorityLimiter(self.workers), batchers)
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
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

    def admit(self, model: ServedModel, count: int = 1) -> Ticket:
        """Admit interactive work now, or raise Overloaded (503) when the model is full."""
        return self.admission.admit(model.name, model.spec.batching.max_queue, count)

    async def admit_background(self, model: ServedModel, count: int = 1) -> Ticket:
        """Admit background work once the model has room for it; never refused."""
        return await self.admission.wait(model.name, model.spec.batching.max_queue, count)

    async def predict(
        self,
        model: ServedModel,
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
        model: ServedModel,
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
            prediction = await self.pipeline.run(
                model, local, context, priority, keep_image=keep_image, keep_outputs=keep_outputs
            )
        except FoveaError:
            self._observe(model, {}, ok=False)
            raise
        self._observe(model, prediction.timing_ms, ok=True)
        return prediction

    async def fetched(self, source: Source) -> Local:
        if not isinstance(source, Url):
            return source
        assert self._http is not None
        return Encoded(await fetch(self._http, source.url, self.fetch_policy))

    def _observe(self, model: ServedModel, timing_ms: Mapping[str, float], ok: bool) -> None:
        if self.observer is not None:
            self.observer.observe_prediction(model.name, timing_ms, ok)
            if (
                ok
                and "infer" in timing_ms
                and self.pipeline.batchers.get(model).max_batch_size == 1
            ):
                self.observer.observe_batch(model.name, 1)  # whole-image runs skip the batcher
