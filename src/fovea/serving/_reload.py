"""Reloading the repository while serving: loads run in a worker thread, one reload at a time;
versions no longer served keep their batchers until their admitted requests finish, then stop,
and sessions nothing uses any more are closed."""

from __future__ import annotations

import functools
import logging

import anyio

from fovea.models import ReloadReport, Repository
from fovea.serving._service import Service

log = logging.getLogger("fovea.repository")


class Reloader:
    def __init__(self, repository: Repository, service: Service) -> None:
        self.repository, self.service = repository, service
        self._lock = anyio.Lock()

    async def reload(self, only: str | None = None, *, retry_failed: bool = True) -> ReloadReport:
        """The whole folder (or one model): new models load, removed ones unload, changed ones
        swap; see `Repository.reload`."""
        run = functools.partial(self.repository.reload, only, retry_failed=retry_failed)
        async with self._lock:
            report = await anyio.to_thread.run_sync(run)
        self._retire(report)
        return report

    async def unload(self, name: str) -> ReloadReport:
        async with self._lock:
            report = self.repository.unload(name)
        self._retire(report)
        return report

    async def poll(self, every_s: float) -> None:
        """Reload whenever the folder changes, checking every `every_s` seconds; forever."""
        while True:
            await anyio.sleep(every_s)
            try:
                report = await self.reload(retry_failed=False)
            except Exception:  # a folder gone for a moment must not stop the polling
                log.exception("repository poll failed")
                continue
            if report.loaded or report.reloaded or report.unloaded or report.failed:
                log.info(
                    "repository changed: loaded %s, reloaded %s, unloaded %s, failed %s",
                    report.loaded,
                    report.reloaded,
                    report.unloaded,
                    sorted(report.failed),
                )

    def _retire(self, report: ReloadReport) -> None:
        self.service.retire_later(report.retired, report.closed)
        report.retired, report.closed = [], []  # the service has them now
