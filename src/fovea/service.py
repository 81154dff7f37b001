"""Serving: runs model work in worker threads (never on the event loop), fetches URL inputs
concurrently, and keeps one bad image in a batch from failing the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import anyio
import httpx

from fovea.errors import FoveaError, TooManyImages
from fovea.fetch import FetchPolicy, fetch
from fovea.model import Prediction, PredictParams, ServedModel
from fovea.repository import Repository
from fovea.vision.io import Limits

T = TypeVar("T")


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


class PredictService:
    """What the API calls: bounded worker threads plus an HTTP client for URL inputs."""

    def __init__(
        self,
        repository: Repository,
        limits: Limits,
        fetch_policy: FetchPolicy,
        workers: int,
        max_images: int,
    ) -> None:
        self.repository, self.limits, self.fetch_policy = repository, limits, fetch_policy
        self.max_images = max_images
        self.limiter = anyio.CapacityLimiter(workers)
        self.http = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
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
                prediction = await self.in_worker(model.predict, data, self.limits, params)
                outcomes[index] = ItemOutcome(item.id, prediction=prediction)
            except FoveaError as exc:
                outcomes[index] = ItemOutcome(item.id, error=exc)

        async with anyio.create_task_group() as group:
            for index, item in enumerate(inputs):
                group.start_soon(run, index, item)
        return [o for o in outcomes if o is not None]

    async def load(self, item: ImageInput) -> bytes:
        if item.data is not None:
            return item.data
        assert item.url is not None
        return await fetch(self.http, item.url, self.fetch_policy)

    async def in_worker(self, function: Callable[..., T], *args: object) -> T:
        """Run `function` in a worker thread and add the wait for a free worker as `queue` time."""
        queued_at = time.perf_counter()
        started: list[float] = []

        def timed() -> T:
            started.append(time.perf_counter())
            return function(*args)

        result = await anyio.to_thread.run_sync(timed, limiter=self.limiter)
        if isinstance(result, Prediction):
            result.timing_ms["queue"] = round((started[0] - queued_at) * 1000, 3)
        return result
