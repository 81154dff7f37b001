"""How long an explanation takes with the default budgets: each method against a real `fovea serve`
(the bundled models), the median of a few runs per photo, one request at a time, with the load
average before and after (the development machine is shared: compare the rows of one run). The
server's CPU seconds per request are measured too: other processes' load slows the wall clock,
far less the CPU time a request needs.

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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(
    client: httpx.Client, pid: int, model: str, method: str, data: bytes
) -> tuple[float, float, int]:
    """Wall seconds for one request as the client sees it, the server's CPU seconds for it, and
    the model runs it made."""
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    cpu_before = cpu_s(pid)
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
    return elapsed, cpu_s(pid) - cpu_before, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {load()}; {os.cpu_count()} CPUs")
    rows = []
    with started_server(BUNDLED) as (url, pid), httpx.Client(base_url=url, timeout=120) as client:
        assert pid is not None
        for photo, path in PHOTOS.items():
            data = path.read_bytes()
            for model, method in CASES:
                timed(client, pid, model, method, data)  # warm: sessions, batchers, caches
                samples = [timed(client, pid, model, method, data) for _ in range(args.runs)]
                wall = [s[0] for s in samples]
                cpu = statistics.median(s[1] for s in samples)
                rows.append(
                    f"| {photo} | {model} | {method} | {samples[0][2]} | "
                    f"{statistics.median(wall):.2f} | {min(wall):.2f} | {max(wall):.2f} | "
                    f"{cpu:.2f} |"
                )
                print(rows[-1], flush=True)
    print(f"load average after: {load()}")
    print("| photo | model | method | model runs | median s | min s | max s | server CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
