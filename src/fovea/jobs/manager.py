"""Server jobs: submitted, queued, run a few at a time by an engine, results committed to the
store as each image finishes, cancelled on request. On start, jobs left `running` or `queued` by a
server that stopped (or was killed) are resumed: only their unfinished items run again."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fovea.errors import FoveaError
from fovea.formats import BatchResults, ImageEntry, megadetector
from fovea.jobs.engine import Engine, Header, JobOptions, OnEntry
from fovea.jobs.sources import Item
from fovea.jobs.store import FINAL, JobRow, JobStore
from fovea.wire import JobInfo

log = logging.getLogger("fovea.jobs")
DB_NAME = "jobs.sqlite3"


@dataclass
class _Rate:
    started: float
    done_at_start: int


class JobManager:
    """Lives inside the server's lifespan: `await group.start(manager.serve)`."""

    def __init__(self, data_dir: Path, engine: Engine, concurrent: int = 2) -> None:
        self.data_dir, self.engine, self.concurrent = data_dir, engine, concurrent
        self._store: JobStore | None = None
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._rates: dict[str, _Rate] = {}
        self._send: MemoryObjectSendStream[str] | None = None

    @property
    def store(self) -> JobStore:
        """Opened on first use, so a server that never runs a job writes nothing to disk."""
        if self._store is None:
            self._store = JobStore(self.data_dir / DB_NAME)
        return self._store

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        send, receive = anyio.create_memory_object_stream[str](math.inf)
        self._send = send
        if (self.data_dir / DB_NAME).exists():
            for row in self.store.in_state("running", "queued"):
                log.info("resuming job %s (%d of %d done)", row.id, row.done, row.total)
                send.send_nowait(row.id)
        try:
            async with send, receive, anyio.create_task_group() as group:
                for _ in range(self.concurrent):
                    group.start_soon(self._runner, receive.clone())
                task_status.started()
        finally:
            if self._store is not None:
                self._store.close()

    def submit(self, options: JobOptions, source: dict[str, Any], items: Sequence[Item]) -> JobRow:
        row = self.store.create({**options.spec(), "source": source}, items)
        assert self._send is not None, "serve() first"
        self._send.send_nowait(row.id)
        return row

    def cancel(self, job: str) -> JobRow:
        row = self.store.get(job)
        if row.state not in FINAL:
            self.store.set_state(job, "cancelled")
            scope = self._scopes.get(job)
            if scope is not None:
                scope.cancel()
        return self.store.get(job)

    def info(self, job: str) -> JobInfo:
        return self._info(self.store.get(job))

    def all(self) -> list[JobInfo]:
        if self._store is None and not (self.data_dir / DB_NAME).exists():
            return []
        return [self._info(row) for row in self.store.all()]

    def results(self, job: str) -> BatchResults:
        """What is finished so far (all of it once the job is done)."""
        row = self.store.get(job)
        header = row.spec.get("header") or {"detection_categories": {}, "info": {}}
        entries = [megadetector.entry_from_json(e) for e in self.store.entries(job)]
        return BatchResults(
            entries,
            header["detection_categories"],
            header["info"],
            header.get("classification_categories") or {},
        )

    def include_image_size(self, job: str) -> bool:
        return bool(self.store.get(job).spec.get("include_image_size"))

    def location(self, job: str, file: str) -> str | None:
        return self.store.location(job, file)

    async def _runner(self, receive: MemoryObjectReceiveStream[str]) -> None:
        async with receive:
            async for job in receive:
                await self._run(job)

    async def _run(self, job: str) -> None:
        row = self.store.get(job)
        if row.state in FINAL:
            return  # cancelled while it waited
        options = JobOptions.of_spec(row.spec)
        with anyio.CancelScope() as scope:
            self._scopes[job] = scope
            try:
                header = await self.engine.header(options)
                self.store.set_spec(job, {**row.spec, "header": _header_json(header)})
                self.store.set_state(job, "running")
                self._rates[job] = _Rate(time.monotonic(), row.done)
                await self.engine.run(self.store.pending(job), options, self._recorder(job))
                self.store.set_state(job, "done")
            except FoveaError as exc:
                self.store.set_state(job, "failed", exc.detail)
            except Exception as exc:
                log.exception("job %s failed", job)
                self.store.set_state(job, "failed", f"{type(exc).__name__}: {exc}")
            finally:
                self._scopes.pop(job, None)
                self._rates.pop(job, None)

    def _recorder(self, job: str) -> OnEntry:
        store = self.store

        async def record(seq: int, item: Item, entry: ImageEntry) -> None:
            data = megadetector.entry_json(entry)
            failed = entry.failure is not None
            await anyio.to_thread.run_sync(store.record, job, seq, data, failed)

        return record

    def _info(self, row: JobRow) -> JobInfo:
        rate = self._rates.get(row.id)
        speed = eta = None
        if rate is not None:
            elapsed = time.monotonic() - rate.started
            if elapsed > 0.5 and row.done > rate.done_at_start:
                speed = round((row.done - rate.done_at_start) / elapsed, 2)
                eta = round((row.total - row.done) / speed, 1)
        return JobInfo(
            id=row.id,
            state=row.state,
            model=row.spec["model"],
            version=row.spec.get("version"),
            source=row.spec.get("source", {}),
            total=row.total,
            done=row.done,
            failed=row.failed,
            images_per_s=speed,
            eta_s=eta,
            created=row.created,
            finished=row.finished,
            error=row.error,
        )


def _header_json(header: Header) -> dict[str, Any]:
    return {
        "detection_categories": header.detection_categories,
        "info": header.info,
        "classification_categories": header.classification_categories,
    }
