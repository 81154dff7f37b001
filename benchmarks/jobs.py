"""Batch jobs against the in-process ceiling, in one run: `python benchmarks/jobs.py`.

1. Builds N (500) distinct 1280x960 JPEGs from the project's real photos in a temporary folder.
2. Measures the in-process ceiling (`fovea.bench.ceiling.measure`, as `fovea bench` does).
3. Starts `fovea serve` with that folder allowed, measures a single interactive predict's p50
   while idle, runs a job over the folder (throughput, peak RSS), then runs it again while
   sending single predicts one after another (their p50 against the idle p50).
Prints a Markdown report; nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageEnhance, ImageOps

from fovea.bench.ceiling import measure
from fovea.bench.server import rss_mb, started_server
from fovea.models import BUNDLED

ROOT = Path(__file__).parents[1]
SOURCES = [
    ROOT / "benchmarks" / "photo-1280x960.jpg",
    *sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg")),
]


def build_photos(folder: Path, count: int) -> Path:
    """`count` distinct 1280x960 photos: each source cropped to 4:3, resized, then flipped,
    brightened and shifted a little differently; spread over camera folders of 100."""
    bases = [ImageOps.fit(Image.open(p).convert("RGB"), (1280, 960)) for p in SOURCES]
    for n in range(count):
        image = bases[n % len(bases)]
        if n // len(bases) % 2:
            image = ImageOps.mirror(image)
        image = ImageEnhance.Brightness(image).enhance(0.8 + (n % 17) / 40)
        path = folder / f"cam{n // 100:02d}" / f"IMG_{n:05d}.JPG"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=88)
    return folder


def single_predicts(url: str, model: str, photo: bytes, count: int) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(count):
            start = time.perf_counter()
            response = client.post(f"/v1/models/{model}/predict", files={"files": ("p.jpg", photo)})
            response.raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return times


def run_job(
    url: str, model: str, folder: Path, pid: int, during: list[float] | None, photo: bytes
) -> dict[str, float]:
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        job = client.post(
            "/v1/jobs", json={"model": model, "source": {"folder": str(folder)}}
        ).json()
        peak = 0.0
        while True:
            info = client.get(f"/v1/jobs/{job['id']}").json()
            peak = max(peak, rss_mb(pid) or 0.0)
            if info["state"] in ("done", "failed", "cancelled"):
                break
            if during is not None and info["done"] > 20:  # measured mid-job, the job busy
                during.extend(single_predicts(url, model, photo, 1))
            else:
                time.sleep(0.1)
        elapsed = time.perf_counter() - started
    assert info["state"] == "done", info
    return {
        "images": info["total"],
        "seconds": elapsed,
        "images_per_s": info["total"] / elapsed,
        "peak_rss_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--model", default="coco-camtrap")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_start = os.getloadavg()
    photo = (ROOT / "benchmarks" / "photo-1280x960.jpg").read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_photos(Path(scratch) / "traps", args.images)
        ceilings = [
            measure(BUNDLED, args.model, photo, cores, 1, args.ceiling_seconds),
            measure(BUNDLED, args.model, photo, 1, cores, args.ceiling_seconds),
        ]
        best = max(c.images_per_s for c in ceilings)
        env = {"FOVEA_JOBS_ROOTS": scratch, "FOVEA_DATA_DIR": str(Path(scratch) / "data")}
        with started_server(BUNDLED, env) as (url, pid):
            assert pid is not None
            single_predicts(url, args.model, photo, 5)  # warm
            idle = single_predicts(url, args.model, photo, 40)
            plain = run_job(url, args.model, folder, pid, None, photo)
            during: list[float] = []
            busy = run_job(url, args.model, folder, pid, during, photo)
    load_end = os.getloadavg()
    idle_p50, busy_p50 = statistics.median(idle), statistics.median(during)
    print(
        f"Load average before: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}; after: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}"
    )
    print("\n| measure | value |\n| --- | --- |")
    for c in ceilings:
        print(
            f"| ceiling, {c.workers} x {c.threads_per_worker} threads | {c.images_per_s:.1f} img/s |"
        )
    print(
        f"| job of {plain['images']:.0f} images, alone | {plain['images_per_s']:.1f} img/s ({plain['seconds']:.1f} s), **{plain['images_per_s'] / best:.2f} x ceiling** |"
    )
    print(f"| server peak RSS during the job | {plain['peak_rss_mb']:.0f} MB |")
    print(f"| single predict p50, idle | {idle_p50:.1f} ms (n={len(idle)}) |")
    print(
        f"| single predict p50, while a job runs | {busy_p50:.1f} ms (n={len(during)}), **{busy_p50 / idle_p50:.2f} x idle** |"
    )
    print(
        f"| the job, while predicts run | {busy['images_per_s']:.1f} img/s, peak RSS {busy['peak_rss_mb']:.0f} MB |"
    )


if __name__ == "__main__":
    main()
