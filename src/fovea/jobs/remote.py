"""The remote engine (`fovea jobs run --server URL`): files are read here, in worker threads, and
each image is sent to the server's predict endpoint (URLs are fetched by the server). An image
the server refuses becomes a failure entry; a busy server (503) is asked again after its
Retry-After; a server that cannot be reached stops the run, which `--resume` continues."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import anyio
import httpx

from fovea.client import APIError, AsyncClient
from fovea.core import Detections, Params
from fovea.formats import ImageEntry, megadetector
from fovea.jobs.engine import Header, JobOptions, OnEntry, exif_datetime, header_of
from fovea.jobs.sources import Item
from fovea.wire import PredictResponse

log = logging.getLogger("fovea.jobs")
BUSY_TRIES = 30
UNREACHABLE_TRIES = 3


class RemoteEngine:
    def __init__(self, url: str, api_key: str | None = None, concurrency: int = 8) -> None:
        self.url, self.api_key, self.concurrency = url, api_key, concurrency

    async def header(self, options: JobOptions) -> Header:
        async with AsyncClient(self.url, self.api_key) as client:
            info = await client.model(options.model)
        if info.task != "detect":
            raise ValueError(f"model {options.model!r} is not a detector")
        typical = float((info.postprocess or {}).get("score_threshold", 0.2))
        version = options.version or info.default_version or "1"
        labels = info.labels or []
        return header_of(info.name, version, labels, typical, metadata=info.metadata)

    async def run(
        self, items: Sequence[tuple[int, Item]], options: JobOptions, on_entry: OnEntry
    ) -> None:
        header = await self.header(options)
        ids = list(header.detection_categories)
        params = Params.model_validate(
            {**options.params.model_dump(exclude_none=True), "score_threshold": options.threshold}
        )
        queue = iter(items)
        async with AsyncClient(self.url, self.api_key, timeout=300) as client:

            async def worker() -> None:
                for seq, item in queue:
                    entry = await self._one(client, item, options, params, ids)
                    await on_entry(seq, item, entry)

            async with anyio.create_task_group() as group:
                for _ in range(self.concurrency):
                    group.start_soon(worker)

    async def _one(
        self,
        client: AsyncClient,
        item: Item,
        options: JobOptions,
        params: Params,
        ids: Sequence[str],
    ) -> ImageEntry:
        image: str | bytes
        taken = None
        if item.is_url:
            image = item.location
        else:
            try:
                image = await anyio.to_thread.run_sync(Path(item.location).read_bytes)
            except OSError:
                return megadetector.failure_entry(item.file)
            if options.include_exif_datetime:
                taken = await anyio.to_thread.run_sync(exif_datetime, image)
        try:
            response = await self._predict(client, options, image, params)
        except APIError as exc:
            log.info("job item %s: %s", item.file, exc)
            failure = (
                megadetector.FAILURE_IMAGE_OPEN if exc.status < 500 else megadetector.FAILURE_INFER
            )
            return megadetector.failure_entry(item.file, failure)
        output = response.outputs[0]
        result = output.result()
        assert isinstance(result, Detections)
        return megadetector.entry_of(
            item.file, result, (output.width, output.height), ids, options.threshold, taken
        )

    async def _predict(
        self, client: AsyncClient, options: JobOptions, image: str | bytes, params: Params
    ) -> PredictResponse:
        unreachable = 0
        for _ in range(BUSY_TRIES):
            try:
                return await client.predict(options.model, [image], params, options.version)
            except APIError as exc:
                if exc.status != 503:
                    raise
                await anyio.sleep(1.0)
            except httpx.TransportError:
                unreachable += 1
                if unreachable >= UNREACHABLE_TRIES:
                    raise
                await anyio.sleep(1.0)
        raise APIError(503, {"title": "Server overloaded", "detail": "busy after many tries"})
