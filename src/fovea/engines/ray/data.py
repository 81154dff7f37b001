"""`RayDataEngine`: a job's images on Ray Data (`fovea jobs run --engine ray`). A dataset of the
items' paths (or URLs) goes through `map_batches` with an actor pool; each actor holds the served
model and runs the local engine's own per-image path (read, EXIF date, decode, predict, failure
entries) inside the worker, so the entries, the results file and `--resume` are the local
engine's. Entries stream back to the driver as batches finish (checkpoints keep working)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future

import anyio
import numpy as np

from fovea.config import Settings
from fovea.engines.ray.run import cluster_cpus
from fovea.formats import ImageEntry, megadetector
from fovea.jobs.engine import Header, JobOptions, LocalEngine, OnEntry, detector
from fovea.jobs.sources import Item
from fovea.models import Repository
from fovea.serving import Service

Batch = dict[str, np.ndarray]


class RayDataEngine:
    """The `Engine` of jobs/engine.py on Ray Data: `actors` model actors at most (default:
    as many as the cluster has CPUs), each reserving `actor_cpus`; `batch_size` images per
    task. The caller has connected to Ray (fovea.engines.ray.run.connect)."""

    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        actors: int | None = None,
        actor_cpus: float = 1.0,
        batch_size: int = 16,
    ) -> None:
        self.settings, self.repository = settings, repository
        self.actors, self.actor_cpus, self.batch_size = actors, actor_cpus, batch_size

    async def header(self, options: JobOptions) -> Header:
        # The header is the local engine's, from the model as loaded here (labels, threshold).
        service = Service(self.settings.limits, self.settings.fetch_policy, 1)
        return await LocalEngine(service, self.repository).header(options)

    async def run(
        self, items: Sequence[tuple[int, Item]], options: JobOptions, on_entry: OnEntry
    ) -> None:
        detector(self.repository, options)  # an unknown model or a classifier fails here
        if not items:
            return
        by_seq = dict(items)
        batches = self._batches(items, options)
        end = object()
        while True:
            batch = await anyio.to_thread.run_sync(next, batches, end)
            if batch is end:
                return
            assert isinstance(batch, dict)
            for seq, text in zip(batch["seq"], batch["entry"], strict=True):
                entry = megadetector.entry_from_json(json.loads(str(text)))
                await on_entry(int(seq), by_seq[int(seq)], entry)

    def _batches(self, items: Sequence[tuple[int, Item]], options: JobOptions) -> Iterator[Batch]:
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        DataContext.get_current().enable_progress_bars = False  # the command has its own
        rows = [
            {"seq": seq, "file": item.file, "location": item.location, "kind": item.kind}
            for seq, item in items
        ]
        cpus = cluster_cpus() or 1.0
        most = self.actors or max(1, int(cpus // max(self.actor_cpus, 1e-3)))
        most = max(1, min(most, -(-len(rows) // self.batch_size)))  # no idle actors
        workers = max(1, int(self.actor_cpus))
        dataset = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // self.batch_size))
        mapped = dataset.map_batches(
            ModelActor,
            fn_constructor_kwargs={
                "settings": self.settings.model_copy(update={"workers": workers}),
                "options": options,
            },
            batch_size=self.batch_size,
            compute=ActorPoolStrategy(min_size=1, max_size=most),
            num_cpus=self.actor_cpus,
        )
        return iter(mapped.iter_batches(batch_size=None, batch_format="numpy"))


class ModelActor:
    """One Ray Data actor: the model loaded once, Fovea's `Service` on an event loop of its own
    thread, and the local engine's per-image path for each batch of paths."""

    def __init__(self, settings: Settings, options: JobOptions) -> None:
        self.options = options
        self.repository = Repository(settings.repository_path, settings.runtime)
        self.repository.scan()
        self.repository.load_all(only=options.model)
        self.service = Service(settings.limits, settings.fetch_policy, settings.workers)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        started: Future[None] = Future()
        asyncio.run_coroutine_threadsafe(self._serve(started), self._loop)
        started.result()
        self.engine = LocalEngine(self.service, self.repository)

    async def _serve(self, started: Future[None]) -> None:
        async with self.service:
            started.set_result(None)
            await asyncio.Event().wait()  # for the actor's lifetime

    def __call__(self, batch: Batch) -> Batch:
        items = [
            (int(seq), Item(str(file), str(location), str(kind)))
            for seq, file, location, kind in zip(
                batch["seq"], batch["file"], batch["location"], batch["kind"], strict=True
            )
        ]
        entries: dict[int, ImageEntry] = {}

        async def collect(seq: int, item: Item, entry: ImageEntry) -> None:
            entries[seq] = entry

        run = self.engine.run(items, self.options, collect)
        asyncio.run_coroutine_threadsafe(run, self._loop).result()
        order = [seq for seq, _ in items]
        return {
            "seq": np.array(order, np.int64),
            "entry": np.array(
                [json.dumps(megadetector.entry_json(entries[seq])) for seq in order], object
            ),
        }
