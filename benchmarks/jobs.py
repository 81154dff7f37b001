"""Batch jobs against the in-process ceiling, in one run: `python benchmarks/jobs.py`.

1. Builds N (500) distinct 1280x960 JPEGs from the project's real photos in a temporary folder.
2. Measures the in-process ceiling (`fovea.bench.ceiling.measure`, as `fovea bench` does).
3. Starts `fovea serve` with that folder allowed and measures a single interactive predict's p50
   while idle; runs a job over the folder at the model's default threshold (the ceiling's work
   per image): throughput against the ceiling, and peak RSS; then a job at MegaDetector's 0.005
   (many more boxes through NMS) while sending single predicts one after another: their p50
   against the idle p50.
Prints a Markdown report; nothing is written to the repository.
"""

from __future__ import annotations

import argparse
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
PHOTO = ROOT / "benchmarks" / "photo-1280x960.jpg"
SOURCES = [PHOTO, *sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg"))]


def build_photos(folder: Path, count: int) -> Path:
    """`count` distinct 1280x960 photos: each source cropped to 4:3 and resized, then mirrored
    and brightened a little differently; 100 to a camera folder."""
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
            answer = client.post(f"/v1/models/{model}/predict", files={"files": ("p.jpg", photo)})
            answer.raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return times


def run_job(
    url: str, model: str, folder: Path, pid: int, threshold: float, during: list[float] | None
) -> dict[str, float]:
    """One job from POST to done; with `during`, single predicts go on meanwhile (timed)."""
    body = {"model": model, "source": {"folder": str(folder)}, "threshold": threshold}
    photo = PHOTO.read_bytes()
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        job = client.post("/v1/jobs", json=body).json()
        peak = 0.0
        while True:
            info = client.get(f"/v1/jobs/{job['id']}").json()
            peak = max(peak, rss_mb(pid) or 0.0)
            if info["state"] in ("done", "failed", "cancelled"):
                break
            if during is not None and 20 < info["done"] < info["total"] - 20:
                during.extend(single_predicts(url, model, photo, 1))
            else:
                time.sleep(0.1)
        elapsed = time.perf_counter() - started
    assert info["state"] == "done", info
    return {
        "images": info["total"],
        "seconds": elapsed,
        "per_s": info["total"] / elapsed,
        "rss": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--model", default="coco-camtrap")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_start = os.getloadavg()
    photo = PHOTO.read_bytes()
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
            default = httpx.get(f"{url}/v1/models/{args.model}").json()["postprocess"]
            plain = run_job(url, args.model, folder, pid, default["score_threshold"], None)
            during: list[float] = []
            busy = run_job(url, args.model, folder, pid, 0.005, during)
    load_end = os.getloadavg()
    idle_p50, busy_p50 = statistics.median(idle), statistics.median(during)
    before, after = (" ".join(f"{v:.2f}" for v in load) for load in (load_start, load_end))
    print(f"Load average before: {before}; after: {after}")
    print("\n| measure | value |\n| --- | --- |")
    for c in ceilings:
        threads = f"{c.workers} x {c.threads_per_worker} threads"
        print(f"| ceiling, {threads} | {c.images_per_s:.1f} img/s |")
    print(
        f"| job of {plain['images']:.0f} images, default threshold | {plain['per_s']:.1f} img/s "
        f"({plain['seconds']:.1f} s): **{plain['per_s'] / best:.2f} x ceiling** |"
    )
    print(f"| server peak RSS during that job | {plain['rss']:.0f} MB |")
    print(f"| single predict p50, idle | {idle_p50:.1f} ms (n={len(idle)}) |")
    print(
        f"| single predict p50 while a 0.005 job runs | {busy_p50:.1f} ms (n={len(during)}): "
        f"**{busy_p50 / idle_p50:.2f} x idle** |"
    )
    print(
        f"| that job (threshold 0.005) | {busy['per_s']:.1f} img/s: "
        f"{busy['per_s'] / best:.2f} x ceiling, peak RSS {busy['rss']:.0f} MB |"
    )


if __name__ == "__main__":
    main()
