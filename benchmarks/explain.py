"""How long an explanation takes with the default budgets: each method against a real `fovea serve`
(the bundled models), the median of a few runs per photo, one request at a time, with the load
average before and after (the development machine is shared: compare the rows of one run).

    .venv/bin/python benchmarks/explain.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import httpx

from fovea.bench.server import started_server
from fovea.models import BUNDLED

PHOTOS = {
    "chelsea.jpg 451x300": Path(__file__).parents[1]
    / "tests"
    / "fixtures"
    / "photos"
    / "chelsea.jpg",
    "photo 1280x960": Path(__file__).parent / "photo-1280x960.jpg",
}
CASES = [
    ("imagenet", "predict"),
    ("imagenet", "scorecam"),
    ("imagenet", "rise"),
    ("imagenet", "occlusion"),
    ("coco", "drise"),
]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def timed(client: httpx.Client, model: str, method: str, data: bytes) -> tuple[float, int]:
    """Seconds for one request, as the client sees it, and the model runs it made."""
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    start = time.perf_counter()
    if method == "predict":
        response = client.post(f"/v1/models/{model}/predict", files=files)
        runs = 1
    else:
        query = {"method": method, "format": "json"}
        response = client.post(f"/v1/models/{model}/explain", files=files, params=query)
        runs = int(response.json()["evaluations"]) + 1 if response.status_code == 200 else 0
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {load()}; {os.cpu_count()} CPUs")
    rows = []
    with started_server(BUNDLED) as (url, _), httpx.Client(base_url=url, timeout=120) as client:
        for photo, path in PHOTOS.items():
            data = path.read_bytes()
            for model, method in CASES:
                timed(client, model, method, data)  # warm: sessions, batchers, caches
                samples = [timed(client, model, method, data) for _ in range(args.runs)]
                seconds = [s for s, _ in samples]
                rows.append(
                    f"| {photo} | {model} | {method} | {samples[0][1]} | "
                    f"{statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} |"
                )
                print(rows[-1], flush=True)
    print(f"load average after: {load()}")
    print("| photo | model | method | model runs | median s | min s | max s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
