"""The benchmark as a whole: ceiling first, then the load grid against one server."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import anyio

from fovea.bench import ceiling, load, report
from fovea.bench.server import rss_mb, started_server


def run(
    *,
    model: str,
    image: bytes,
    repository: Path,
    server: str | None,
    concurrencies: Sequence[int],
    per_request: Sequence[int],
    duration_s: float,
    say: Callable[[str], None],
) -> tuple[list[report.Row], list[ceiling.CeilingResult]]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    ceilings = [ceiling.measure(repository, model, image, 1, cores, duration_s)]
    ceilings += [
        ceiling.measure(repository, model, image, k, 1, duration_s) for k in range(1, cores + 1)
    ]
    for c in ceilings:
        say(f"ceiling {c.workers} x {c.threads_per_worker} threads: {c.images_per_s:.1f} img/s")
    best = max(c.images_per_s for c in ceilings)
    rows = []
    target: AbstractContextManager[tuple[str, int | None]] = (
        nullcontext((server, None)) if server else started_server(repository)
    )
    with target as (url, pid):
        for n in per_request:
            for clients in concurrencies:
                result = anyio.run(
                    functools.partial(
                        load.run_load,
                        url,
                        model,
                        image,
                        concurrency=clients,
                        images_per_request=n,
                        duration_s=duration_s,
                    )
                )
                row = report.row_of(result, best, rss_mb(pid) if pid else None)
                say(
                    f"{clients:>3} clients x {n:>2} images: {row.images_per_s} img/s, "
                    f"p99 {row.p99_ms} ms, errors {row.errors}"
                )
                rows.append(row)
    return rows, ceilings
