"""The benchmark as a whole: ceiling first, then the load grid against one server. The model-only
limit is measured again right before each row, so that the row's ratio to it compares two
measurements of the same machine (on a shared machine, its speed drifts within minutes)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import anyio

from fovea.bench import ceiling, cpu, load, report
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
    limit = ceiling.measure(repository, model, image, cores, 1, duration_s, model_only=True)
    say(f"model-only limit {limit.workers} x 1 thread: {limit.images_per_s:.1f} img/s")
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
                now = ceiling.measure(repository, model, image, cores, 1, duration_s, True)
                before = cpu.sample(url, model, pid)
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
                spent = cpu.per_image(
                    before, cpu.sample(url, model, pid), result.images, result.requests
                )
                rss = rss_mb(pid) if pid else None
                row = report.row_of(result, best, now.images_per_s, rss, spent)
                say(
                    f"{clients:>3} clients x {n:>2} images: {row.images_per_s} img/s "
                    f"({row.ratio_to_model_only} x model-only {row.model_only_per_s} img/s), "
                    f"p99 {row.p99_ms} ms, "
                    f"errors {row.errors}; CPU ms per image {spent.stages_ms}, "
                    f"other per request {spent.other_per_request_ms}"
                )
                rows.append(row)
    return rows, [limit, *ceilings]
