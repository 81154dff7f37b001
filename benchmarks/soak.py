"""Memory over a long run: N predict requests against `fovea serve` with every bundled model
loaded, the server's RSS sampled every 1,000 requests (issue target: <= 600 MB, no growth).

    .venv/bin/python benchmarks/soak.py --requests 10000 --clients 16
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anyio
import httpx

from fovea.bench.server import rss_mb, started_server
from fovea.models import BUNDLED

PHOTO = Path(__file__).parent / "photo-1280x960.jpg"


async def soak(url: str, pid: int, total: int, clients: int) -> list[tuple[int, float, float]]:
    image = PHOTO.read_bytes()
    files = [("files", ("photo.jpg", image, "image/jpeg"))]
    done, errors, samples = 0, 0, [(0, time.perf_counter(), rss_mb(pid) or 0.0)]
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one_client() -> None:
            nonlocal done, errors
            while done < total:
                done += 1
                number = done  # others count on while this request is out
                response = await client.post("/v1/models/coco/predict", files=files)
                errors += response.status_code != 200
                if number % 1000 == 0:
                    samples.append((number, time.perf_counter(), rss_mb(pid) or 0.0))
                    print(
                        f"{number:>6} requests, {errors} errors, RSS {samples[-1][2]:.0f} MB",
                        flush=True,
                    )

        async with anyio.create_task_group() as group:
            for _ in range(clients):
                group.start_soon(one_client)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with started_server(BUNDLED) as (url, pid):
        assert pid is not None
        samples = anyio.run(soak, url, pid, args.requests, args.clients)
    first, last = samples[1], samples[-1]
    print(
        f"RSS after {first[0]} requests: {first[2]:.0f} MB; after {last[0]}: {last[2]:.0f} MB; "
        f"peak {max(s[2] for s in samples):.0f} MB; "
        f"{(last[0] - first[0]) / (last[1] - first[1]):.1f} req/s in between"
    )


if __name__ == "__main__":
    main()
