"""Batch jobs against the in-process ceiling, in one run: `python benchmarks/jobs.py`.

1. Builds N (500) distinct 1280x960 JPEGs from the project's real photos in a temporary folder.
2. Measures the in-process ceiling (`fovea.bench.ceiling.measure`, as `fovea bench` does).
3. Starts `fovea serve` with that folder allowed and measures a single interactive predict's p50
   while idle; runs a job over the folder at the model's default threshold (the ceiling's work
   per image): throughput against the ceiling, CPU per image, and peak RSS; then one at
   MegaDetector's 0.005 (many more boxes through NMS); then single predicts one after another,
   in rounds alternating idle and while a 0.005 job runs: the p50 of each.
Prints a Markdown report; nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import httpx
from PIL import Image, ImageEnhance, ImageOps

from fovea.bench.ceiling import measure
from fovea.bench.server import rss_mb, started_server
from fovea.models import BUNDLED

ROOT = Path(__file__).parents[1]
PHOTO = ROOT / "benchmarks" / "photo-1280x960.jpg"
SOURCES = [PHOTO, *sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg"))]


def build_photos(folder: Path, count: int, sources: list[Path] = SOURCES) -> Path:
    """`count` distinct 1280x960 photos: each source cropped to 4:3 and resized, then mirrored
    and brightened a little differently; 100 to a camera folder."""
    bases = [ImageOps.fit(Image.open(p).convert("RGB"), (1280, 960)) for p in sources]
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


def run_job(url: str, model: str, folder: Path, pid: int, threshold: float) -> dict[str, float]:
    """One job from POST to done: img/s, peak RSS, CPU ms per image of the server process."""
    body = {"model": model, "source": {"folder": str(folder)}, "threshold": threshold}
    with httpx.Client(base_url=url, timeout=60) as client:
        started, cpu_started = time.perf_counter(), cpu_seconds(pid)
        job = client.post("/v1/jobs", json=body).json()
        peak = 0.0
        while True:
            info = client.get(f"/v1/jobs/{job['id']}").json()
            peak = max(peak, rss_mb(pid) or 0.0)
            if info["state"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.1)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_started
    assert info["state"] == "done", info
    return {
        "images": info["total"],
        "seconds": elapsed,
        "per_s": info["total"] / elapsed,
        "rss": peak,
        "cpu_ms": cpu / info["total"] * 1000,
    }


def priority_rounds(
    url: str, model: str, folder: Path, rounds: int, per_round: int
) -> tuple[list[float], list[float]]:
    """Single predicts while idle and while a job (threshold 0.005) runs, in alternating
    rounds: the load of other processes drifts over minutes, so both sets see the same."""
    photo = PHOTO.read_bytes()
    idle: list[float] = []
    busy: list[float] = []
    body = {"model": model, "source": {"folder": str(folder)}, "threshold": 0.005}
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(rounds):
            idle += single_predicts(url, model, photo, per_round)
            job = client.post("/v1/jobs", json=body).json()["id"]
            deadline = time.monotonic() + 60
            while client.get(f"/v1/jobs/{job}").json()["done"] < 4:  # running, workers busy
                assert time.monotonic() < deadline
                time.sleep(0.05)
            busy += single_predicts(url, model, photo, per_round)
            assert client.get(f"/v1/jobs/{job}").json()["state"] == "running"
            client.delete(f"/v1/jobs/{job}")
            time.sleep(1.5)  # the cancelled job's last images finish; the hold runs out
    return idle, busy


def ceiling(model: str, photo: bytes, cores: int, seconds: float) -> float:
    """The best in-process ceiling, as `fovea bench` measures it: k processes x 1 thread, and
    one process with every core."""
    runs = [measure(BUNDLED, model, photo, cores, 1, seconds)]
    runs.append(measure(BUNDLED, model, photo, 1, cores, seconds))
    return max(c.images_per_s for c in runs)


def ceiling_cpu_ms(model: str, photo: bytes, cores: int, seconds: float) -> float:
    """CPU milliseconds per image of the ceiling's workers (k x 1 thread), which the load of
    other processes hardly changes: a long and a short run, so loading and warm-up cancel."""

    def run(duration: float) -> tuple[float, float]:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = measure(BUNDLED, model, photo, cores, 1, duration)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        return cpu, result.images_per_s * duration

    long_cpu, long_images = run(seconds)
    short_cpu, short_images = run(1.0)
    return (long_cpu - short_cpu) / (long_images - short_images) * 1000


def engine_overhead(folder: Path, model: str, count: int) -> tuple[float, float]:
    """CPU ms per image in this process: a plain loop of `ServedModel.predict` over the job's
    files, then the jobs' LocalEngine over the same files (reading, admission, the service's
    workers, results): what the jobs machinery itself costs, whatever the load."""
    from fovea.config import Settings
    from fovea.jobs.engine import JobOptions, LocalEngine
    from fovea.jobs.sources import Item, scan_folder
    from fovea.models import Repository
    from fovea.serving import Service

    items = scan_folder(folder)[:count]
    repository = Repository(BUNDLED)
    repository.scan()
    repository.load_all(only=model)
    served = repository.get(model)
    threshold = served.spec.postprocess.score_threshold
    for item in items[:5]:
        served.predict(Path(item.location).read_bytes())
    started = time.process_time()
    for item in items:
        served.predict(Path(item.location).read_bytes())
    plain = (time.process_time() - started) / len(items) * 1000
    settings = Settings()

    async def run() -> float:
        async def ignore(seq: int, item: Item, entry: object) -> None:
            pass

        async with Service(settings.limits, settings.fetch_policy, settings.workers) as service:
            engine = LocalEngine(service, repository)
            begun = time.process_time()
            options = JobOptions(model, threshold=threshold)
            await engine.run(list(enumerate(items)), options, ignore)
            return (time.process_time() - begun) / len(items) * 1000

    return plain, anyio.run(run)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--model", default="coco-camtrap")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    parser.add_argument(
        "--photos",
        choices=["ceiling", "all"],
        default="ceiling",
        help="variants of the ceiling's own photo (like for like), or of every project photo",
    )
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_start = os.getloadavg()
    photo = PHOTO.read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        sources = [PHOTO] if args.photos == "ceiling" else SOURCES
        folder = build_photos(Path(scratch) / "traps", args.images, sources)
        # The ceiling before and after the jobs: on a shared machine, the load moves.
        before = ceiling(args.model, photo, cores, args.ceiling_seconds)
        env = {"FOVEA_JOBS_ROOTS": scratch, "FOVEA_DATA_DIR": str(Path(scratch) / "data")}
        with started_server(BUNDLED, env) as (url, pid):
            assert pid is not None
            single_predicts(url, args.model, photo, 5)  # warm
            default = httpx.get(f"{url}/v1/models/{args.model}").json()["postprocess"]
            plain = run_job(url, args.model, folder, pid, default["score_threshold"])
            low = run_job(url, args.model, folder, pid, 0.005)
            idle, during = priority_rounds(url, args.model, folder, 10, 10)
        after = ceiling(args.model, photo, cores, args.ceiling_seconds)
        ceiling_cpu = ceiling_cpu_ms(args.model, photo, cores, args.ceiling_seconds)
        plain_cpu, engine_cpu = engine_overhead(folder, args.model, 200)
    best = (before + after) / 2
    load_end = os.getloadavg()
    idle_p50, busy_p50 = statistics.median(idle), statistics.median(during)
    start_load, end_load = (" ".join(f"{v:.2f}" for v in load) for load in (load_start, load_end))
    print(f"Photos: {args.images} variants of {args.photos} ({len(sources)} sources)")
    print(f"Load average before: {start_load}; after: {end_load}")
    print("\n| measure | value |\n| --- | --- |")
    print(f"| in-process ceiling, before / after the jobs | {before:.1f} / {after:.1f} img/s |")
    print(
        f"| job of {plain['images']:.0f} images, default threshold | {plain['per_s']:.1f} img/s "
        f"({plain['seconds']:.1f} s): **{plain['per_s'] / best:.2f} x ceiling** |"
    )
    print(
        f"| CPU per image: that job (server process) / the ceiling's workers | "
        f"{plain['cpu_ms']:.1f} / {ceiling_cpu:.1f} ms: **{ceiling_cpu / plain['cpu_ms']:.2f}** |"
    )
    print(
        f"| CPU per image in one process: plain predict loop / LocalEngine, same 200 files | "
        f"{plain_cpu:.1f} / {engine_cpu:.1f} ms: **{plain_cpu / engine_cpu:.2f}** |"
    )
    print(f"| server peak RSS during that job | {plain['rss']:.0f} MB |")
    print(
        f"| job at threshold 0.005 | {low['per_s']:.1f} img/s: {low['per_s'] / best:.2f} x "
        f"ceiling, peak RSS {low['rss']:.0f} MB |"
    )
    print(f"| single predict p50, idle | {idle_p50:.1f} ms (n={len(idle)}) |")
    print(
        f"| single predict p50 while a 0.005 job runs (rounds alternating with idle) | "
        f"{busy_p50:.1f} ms (n={len(during)}): **{busy_p50 / idle_p50:.2f} x idle** |"
    )


if __name__ == "__main__":
    main()
