"""A closed-loop load generator: N clients, each sending its next request when the last returns."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import httpx
import numpy as np


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    images_per_request: int
    requests: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float]
    client_cpu_s: float  # CPU the generator itself used: it shares the machine with the server

    @property
    def images(self) -> int:
        """Images answered inside the window."""
        return (self.requests - self.errors) * self.images_per_request

    @property
    def images_per_s(self) -> float:
        return (self.requests - self.errors) * self.images_per_request / self.elapsed_s

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


async def run_load(
    url: str,
    model: str,
    image: bytes,
    *,
    concurrency: int,
    images_per_request: int,
    duration_s: float,
    warmup_s: float = 1.0,
) -> LoadResult:
    """Send multipart predict requests for `duration_s` after `warmup_s`, from `concurrency`
    clients at once; requests that complete inside the window are counted."""
    files = [("files", (f"{i}.jpg", image, "image/jpeg")) for i in range(images_per_request)]
    latencies: list[float] = []
    answered = errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        start = time.perf_counter() + warmup_s
        stop = start + duration_s

        async def one_client() -> None:
            nonlocal answered, errors
            while (sent := time.perf_counter()) < stop:
                response = await client.post(f"/v1/models/{model}/predict", files=files)
                done = time.perf_counter()
                # A request counts when it completes inside the window, wherever it started:
                # counting only those that also start inside would lose one per client.
                if start <= done <= stop:
                    if response.status_code == 200:  # latency of answers, not of refusals
                        latencies.append((done - sent) * 1000)
                        answered += 1
                    else:
                        errors += 1
                # Shed with 503: wait as told, as a well-behaved client does, not retry at once.
                retry_after = response.headers.get("retry-after", "")
                if response.status_code == 503 and retry_after.isdigit():
                    await anyio.sleep(int(retry_after))

        cpu_before = time.process_time()
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(one_client)
        cpu = time.process_time() - cpu_before
    return LoadResult(
        concurrency, images_per_request, answered + errors, errors, duration_s, latencies, cpu
    )
