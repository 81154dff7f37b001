"""Video throughput against the image ceiling, in one run, and the three client modes of
`fovea video` at 1, 4 and 16 streams (issue target: frames/s of the video route >= 0.9 x the
in-process ceiling for the same model and frame size).

    .venv/bin/python benchmarks/video.py --frames 150 --mode-frames 60 --streams 1,4,16

The clip is a pan and zoom across benchmarks/photo-1280x960.jpg, 640x480 at 30 fps, encoded
H.264 here. The ceiling is `fovea bench`'s: decode (a 640x480 JPEG of the clip's first frame),
preprocess, infer and postprocess in worker processes with no server. On a machine others share,
rounds alternate the best ceiling and the video route, so each round's ratio compares the two
under the same load; each round also gives CPU per frame (the server process, every thread,
while it runs the video) against CPU per image of the ceiling's work: that ratio does not depend
on how busy the machine is, and it is what the throughput ratio becomes on cores of one's own.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import tempfile
import time
from pathlib import Path

import anyio
import httpx
import numpy as np
from PIL import Image

from fovea.bench import ceiling
from fovea.bench.server import started_server
from fovea.models import BUNDLED, Repository, ServedModel
from fovea.runtime.onnx import RuntimeOptions
from fovea.video import clients
from fovea.video.encode import Mp4Writer
from fovea.video.options import Sampling

PHOTO = Path(__file__).parent / "photo-1280x960.jpg"
SIZE_WH = (640, 480)


def make_clip(path: Path, frames: int) -> bytes:
    """A pan and zoom across the photo; returns the first frame as a JPEG (for the ceiling)."""
    photo = Image.open(PHOTO).convert("RGB")
    first = b""
    with Mp4Writer(path, 30.0, SIZE_WH) as mp4:
        for i in range(frames):
            f = i / max(frames - 1, 1)
            view_w = photo.width * (1.0 - 0.4 * np.sin(np.pi * f))
            view_h = view_w * 3 / 4
            x0, y0 = (photo.width - view_w) * f, (photo.height - view_h) / 2
            frame = photo.resize(
                SIZE_WH, Image.Resampling.BILINEAR, (x0, y0, x0 + view_w, y0 + view_h)
            )
            mp4.write(frame)
            if i == 0:
                buffer = io.BytesIO()
                frame.save(buffer, format="JPEG", quality=90)
                first = buffer.getvalue()
    return first


def ceilings(model: str, jpeg: bytes, duration_s: float) -> list[ceiling.CeilingResult]:
    cores = len(os.sched_getaffinity(0))
    found = [ceiling.measure(BUNDLED, model, jpeg, 1, cores, duration_s)]
    found += [ceiling.measure(BUNDLED, model, jpeg, k, 1, duration_s) for k in range(1, cores + 1)]
    return found


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def predict_cpu_ms(served: ServedModel, jpeg: bytes, count: int = 30) -> float:
    """CPU per image of the ceiling's work (decode, preprocess, infer, postprocess), one thread."""
    started = time.process_time()
    for _ in range(count):
        served.predict(jpeg)
    return (time.process_time() - started) / count * 1000


def video_route(url: str, model: str, clip: bytes) -> tuple[int, float, float]:
    """Frames, frames/s seen by the client (first byte sent to last line), and by the server."""
    started = time.perf_counter()
    answer = httpx.post(
        f"{url}/v1/models/{model}/video", files={"file": ("clip.mp4", clip)}, timeout=600
    )
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    lines = answer.text.splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "summary", last
    return last["frames"], last["frames"] / elapsed, last["frames_per_s"]


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="coco")
    parser.add_argument("--frames", type=int, default=150, help="Frames in the clip.")
    parser.add_argument("--rounds", type=int, default=3, help="Ceiling, video route: rounds.")
    parser.add_argument("--mode-frames", type=int, default=30, help="Frames each client sends.")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per ceiling run.")
    parser.add_argument("--streams", default="1,4,16")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    loads = [load_average()]
    rounds: list[tuple[float, int, float, float, float, float]] = []
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "clip.mp4"
        jpeg = make_clip(path, args.frames)
        clip = path.read_bytes()
        configurations = ceilings(args.model, jpeg, args.duration)
        best = max(configurations, key=lambda c: c.images_per_s)
        here = Repository(BUNDLED, RuntimeOptions(intra_op_threads=1))
        here.scan()
        here.load_all(only=args.model)
        served = here.get(args.model)
        predict_cpu_ms(served, jpeg, 5)  # warm up
        with started_server(BUNDLED) as (url, pid):
            assert pid is not None
            httpx.post(f"{url}/v1/models/{args.model}/predict", files={"files": ("a.jpg", jpeg)})
            # The machine is shared: ceiling and video alternate, and each round is a ratio.
            for _ in range(args.rounds):
                limit = ceiling.measure(
                    BUNDLED, args.model, jpeg, best.workers, best.threads_per_worker, args.duration
                )
                cpu_before = cpu_s(pid)
                count, client_fps, server_fps = video_route(url, args.model, clip)
                video_cpu_ms = (cpu_s(pid) - cpu_before) / count * 1000
                image_cpu_ms = predict_cpu_ms(served, jpeg)
                rounds.append(
                    (limit.images_per_s, count, client_fps, server_fps, video_cpu_ms, image_cpu_ms)
                )
                print(f"round {len(rounds)}: {rounds[-1]}", flush=True)
            loads.append(load_average())
            frames = clients.load_clip(path, Sampling(max_frames=args.mode_frames))
            for mode in clients.MODES:
                for count in (int(n) for n in args.streams.split(",")):
                    run = functools.partial(
                        clients.run_mode,
                        url,
                        args.model,
                        frames,
                        mode,
                        streams=count,
                        batch=args.batch,
                        concurrency=args.concurrency,
                    )
                    rows.append(anyio.run(run))
                    print(clients.table(rows[-1:]).splitlines()[-1], flush=True)
        loads.append(load_average())
    print(f"\nLoad average (1, 5, 15 min) at the start, after the rounds, at the end: {loads}")
    print("\nIn-process ceiling, 640x480 JPEG:\n")
    print("| workers | threads each | img/s |")
    print("| --- | --- | --- |")
    for c in configurations:
        print(f"| {c.workers} | {c.threads_per_worker} | {c.images_per_s:.1f} |")
    shape = f"{best.workers} x {best.threads_per_worker}"
    print(f"\nRounds: the best ceiling ({shape}), then the clip ({args.frames} frames) through")
    print("the video route:\n")
    print(
        "| round | ceiling img/s | frames | frames/s (client) | frames/s (server) | x ceiling "
        "| CPU ms/frame, video route | CPU ms/image, ceiling's work | CPU ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ratios, cpu_ratios = [], []
    for i, (limit_fps, count, client_fps, server_fps, video_ms, image_ms) in enumerate(rounds, 1):
        ratios.append(client_fps / limit_fps)
        cpu_ratios.append(image_ms / video_ms)
        print(
            f"| {i} | {limit_fps:.1f} | {count} | {client_fps:.1f} | {server_fps:.1f} "
            f"| {ratios[-1]:.2f} | {video_ms:.1f} | {image_ms:.1f} | {cpu_ratios[-1]:.2f} |"
        )
    middle = len(ratios) // 2
    print(
        f"\nMedian ratio: {sorted(ratios)[middle]:.2f}; CPU ratio: {sorted(cpu_ratios)[middle]:.2f}"
    )
    print(f"\n`fovea video` client modes, {args.mode_frames} frames per stream:\n")
    print(clients.table(rows))


if __name__ == "__main__":
    main()
