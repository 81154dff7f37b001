"""The job engine contract and the local engine. An engine runs a job's items through a model and
hands each finished item's entry to a callback, in any order; what it runs on is its business.
`LocalEngine` reads files and fetches URLs in worker threads and runs each image through
`Service` at `Priority.BACKGROUND` (the server's own batcher and workers); `RemoteEngine`
(jobs/remote.py) asks a server's HTTP API. A distributed engine plugs in the same way.
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
from PIL import Image

from fovea.core import Detections, Params
from fovea.errors import FoveaError, InputError, InvalidParameter, PayloadTooLarge
from fovea.formats import ImageEntry, megadetector
from fovea.jobs.sources import Item
from fovea.models import PipelineModel, Repository, Servable
from fovea.serving import Encoded, Priority, Service, Url
from fovea.tasks import DecodeContext

log = logging.getLogger("fovea.jobs")
OnEntry = Callable[[int, Item, ImageEntry], Awaitable[None]]
_EXIF_IFD, _DATETIME_ORIGINAL = 0x8769, 0x9003


@dataclass(frozen=True)
class JobOptions:
    """What a job asks of its model: MegaDetector's `--threshold`, `--include-image-size` and
    `--include-exif-datetime`, and any other predict parameters."""

    model: str
    version: str | None = None
    params: Params = field(default_factory=Params)
    threshold: float = megadetector.DEFAULT_THRESHOLD
    include_image_size: bool = False
    include_exif_datetime: bool = False

    def spec(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "params": self.params.model_dump(mode="json", exclude_none=True),
            "threshold": self.threshold,
            "include_image_size": self.include_image_size,
            "include_exif_datetime": self.include_exif_datetime,
        }

    @classmethod
    def of_spec(cls, spec: dict[str, Any]) -> JobOptions:
        return cls(
            spec["model"],
            spec.get("version"),
            Params.model_validate(spec.get("params") or {}),
            float(spec.get("threshold", megadetector.DEFAULT_THRESHOLD)),
            bool(spec.get("include_image_size")),
            bool(spec.get("include_exif_datetime")),
        )


@dataclass(frozen=True)
class Header:
    """What the results file says about the model: its categories and MegaDetector's `info`."""

    detection_categories: dict[str, str]
    info: dict[str, Any]
    classification_categories: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    async def header(self, options: JobOptions) -> Header:
        """The model's categories and info; raises ModelNotFound, InvalidParameter..."""
        ...

    async def run(
        self, items: Sequence[tuple[int, Item]], options: JobOptions, on_entry: OnEntry
    ) -> None:
        """Every item once; a file or URL that fails becomes a failure entry, never an error."""
        ...


def header_of(
    name: str,
    version: str,
    labels: Sequence[str],
    typical: float,
    classes: Sequence[str] = (),
    classifier: str | None = None,
    metadata: Mapping[str, str | int | float] | None = None,
) -> Header:
    """The results file's header; a two-stage pipeline adds its classifier and the names its
    second stage reports (MegaDetector's `classification_categories`). A model whose model.toml
    `[metadata]` names its `detector` file (a MegaDetector import) is reported as that file with
    those facts, as MegaDetector reports itself: Timelapse and AddaxAI read its thresholds there."""
    facts = dict(metadata or {})
    detector = str(facts.pop("detector", f"fovea-{name}-v{version}"))
    info = megadetector.info_of(
        detector,
        typical,
        round(typical / 2, 3),
        **facts,
        fovea_model=name,
        fovea_version=version,
    )
    if classifier is not None:
        info["classifier"] = f"fovea-{classifier}"
        info["classifier_metadata"] = {"fovea_pipeline": name, "fovea_classifier": classifier}
    categories = megadetector.detection_categories(classes) if classes else {}
    return Header(megadetector.detection_categories(labels), info, categories)


class LocalEngine:
    """In this process, through `service` (the API's, or one the CLI starts).

    Jobs keep every worker busy while nobody else asks; while interactive requests arrive
    (seen in the last `INTERACTIVE_HOLD_S`), they leave one worker free, so a request seldom
    waits for a job's image to finish: the priority queues order waiters, but cannot stop an
    image a worker has started.
    """

    INTERACTIVE_HOLD_S = 1.0
    WATCH_EVERY_S = 0.02  # a predict takes tens of ms at least: none goes unseen

    def __init__(self, service: Service, repository: Repository, concurrency: int = 0) -> None:
        self.service, self.repository = service, repository
        # Enough images in flight to keep every worker busy while others are read; admission
        # (background share of the model's queue) bounds it again.
        self.concurrency = concurrency or max(4, 3 * service.workers)
        self._readers = anyio.CapacityLimiter(max(2, service.workers))
        self._running = anyio.CapacityLimiter(service.workers)  # images of jobs in a worker
        self._interactive_at = -math.inf

    async def header(self, options: JobOptions) -> Header:
        served = self._served(options)
        typical = served.context(Params()).score_threshold
        if isinstance(served, PipelineModel):
            classifier = served.spec.pipeline.classifier
            classes = served.class_labels
            metadata = served.detector.spec.metadata
            return header_of(
                served.name, served.version, served.labels, typical, classes, classifier, metadata
            )
        return header_of(
            served.name, served.version, served.labels, typical, metadata=served.spec.metadata
        )

    async def run(
        self, items: Sequence[tuple[int, Item]], options: JobOptions, on_entry: OnEntry
    ) -> None:
        served = self._served(options)
        context = served.context(_with_threshold(options))
        ids = megadetector.category_ids(served.labels)
        if isinstance(served, PipelineModel):  # second-stage names -> classification ids
            names = served.class_labels
            ids_by_name = dict(zip(names, megadetector.category_ids(names), strict=True))
        else:
            ids_by_name = {}
        queue = iter(items)

        async def worker() -> None:
            for seq, item in queue:  # one shared iterator: each item goes to one worker
                entry = await self._one(served, context, ids, item, options, ids_by_name)
                await on_entry(seq, item, entry)

        async with anyio.create_task_group() as group:
            group.start_soon(self._watch_interactive)
            async with anyio.create_task_group() as workers:
                for _ in range(self.concurrency):
                    workers.start_soon(worker)
            group.cancel_scope.cancel()

    async def _watch_interactive(self) -> None:
        """Give jobs every worker, or all but one while interactive requests come in."""
        admission = self.service.admission
        while True:
            now = anyio.current_time()
            interactive = sum(admission.in_progress.values()) - sum(admission.background.values())
            if interactive > 0:
                self._interactive_at = now
            busy = now - self._interactive_at < self.INTERACTIVE_HOLD_S
            self._running.total_tokens = max(1, self.service.workers - busy)
            await anyio.sleep(self.WATCH_EVERY_S)

    def _served(self, options: JobOptions) -> Servable:
        return detector(self.repository, options)

    async def _one(
        self,
        served: Servable,
        context: DecodeContext,
        ids: Sequence[str],
        item: Item,
        options: JobOptions,
        class_ids: Mapping[str, str],
    ) -> ImageEntry:
        try:
            data = await self._read(item)
            taken = (
                await anyio.to_thread.run_sync(exif_datetime, data, limiter=self._readers)
                if options.include_exif_datetime
                else None
            )
        except (OSError, FoveaError) as exc:
            log.info("job item %s: cannot read: %s", item.file, exc)
            return megadetector.failure_entry(item.file, megadetector.FAILURE_IMAGE_OPEN)
        try:
            with await self.service.admit_background(served):
                async with self._running:
                    prediction = await self.service.run(
                        served, Encoded(data), context, Priority.BACKGROUND
                    )
        except InputError as exc:  # corrupt, truncated, too many pixels: the file's fault
            log.info("job item %s: %s", item.file, exc.detail)
            return megadetector.failure_entry(item.file, megadetector.FAILURE_IMAGE_OPEN)
        except Exception:
            log.exception("job item %s: inference failed", item.file)
            return megadetector.failure_entry(item.file, megadetector.FAILURE_INFER)
        assert isinstance(prediction.result, Detections)
        return megadetector.entry_of(
            item.file,
            prediction.result,
            prediction.size_wh,
            ids,
            options.threshold,
            taken,
            class_ids,
        )

    async def _read(self, item: Item) -> bytes:
        if item.is_url:
            fetched = await self.service.fetched(Url(item.location))
            assert isinstance(fetched, Encoded)
            return fetched.data
        limit = self.service.limits.max_bytes
        return await anyio.to_thread.run_sync(
            _read_file, item.location, limit, limiter=self._readers
        )


def detector(repository: Repository, options: JobOptions) -> Servable:
    """The job's model, if it is a detector (ModelNotFound, InvalidParameter otherwise)."""
    served = repository.get(options.model, options.version)
    if served.spec.task != "detect":
        raise InvalidParameter(
            f"model {options.model!r} is a {served.spec.task} model; jobs need a detector"
        )
    return served


def exif_datetime(data: bytes) -> str | None:
    """EXIF DateTimeOriginal as MegaDetector writes it ("YYYY:MM:DD HH:MM:SS"), or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
        text = str(value).strip("\x00 ") if value is not None else ""
        time.strptime(text, "%Y:%m:%d %H:%M:%S")
    except Exception:  # no EXIF, a broken block, or another date layout: no date
        return None
    return text


def _read_file(location: str, limit: int) -> bytes:
    path = Path(location)
    if path.stat().st_size > limit:
        raise PayloadTooLarge(f"{location} is more than {limit} bytes")
    return path.read_bytes()


def _with_threshold(options: JobOptions) -> Params:
    return Params.model_validate(
        {**options.params.model_dump(exclude_none=True), "score_threshold": options.threshold}
    )
