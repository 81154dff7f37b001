"""The Ray engine against the local engine on the bundled `coco` model, in one run: throughput, p50
and p99 at 1, 4 and 16 clients, peak RSS of every process of each server (Ray's own included:
the whole process tree of `fovea serve`, which starts its private one-machine Ray), and where the
CPU goes per request (Serve's proxy, Fovea's ingress, the model replicas, Ray's own processes),
plus the pickling of one request's arguments and answer measured in process.

    .venv/bin/python benchmarks/ray_engine.py --duration 10          # ~5 minutes

Servers, one after the other on free loopback ports: `local` (`fovea serve`, one worker thread
per core), `ray-2x1` (`--engine ray --replicas 2 --workers 1`: the same two threads of model
work, in two replica processes) and `ray-1x1` (one replica, one thread: the per-replica ceiling).
Writes results/ray_engine.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import anyio
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
from proctree import PeakRss, members, stop_tree  # noqa: E402

from fovea.bench.load import run_load  # noqa: E402
from fovea.bench.server import free_port  # noqa: E402
from fovea.models import BUNDLED  # noqa: E402

PHOTO = HERE / "photo-1280x960.jpg"
TICK = os.sysconf("SC_CLK_TCK")
SERVERS: dict[str, list[str]] = {
    "local": [],
    "ray-2x1": ["--engine", "ray", "--replicas", "2", "--workers", "1"],
    "ray-1x1": ["--engine", "ray", "--replicas", "1", "--workers", "1"],
}


@dataclass
class Cell:
    server: str
    clients: int
    images_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    peak_rss_mb: float
    cpu_ms_per_request: dict[str, float]  # by process kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--out", type=Path, default=Path("results/ray_engine.json"))
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    image = PHOTO.read_bytes()
    load = _uptime()
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory() as tmp:
        repository = Path(tmp) / "models"
        shutil.copytree(BUNDLED / "coco", repository / "coco")
        for name in args.servers.split(","):
            cells += _measure(name, SERVERS[name], repository, image, clients, args.duration)
    pickling = _pickling_us(image)
    report = {
        "command": " ".join(sys.argv),
        "load_before": load,
        "load_after": _uptime(),
        "cores": os.cpu_count(),
        "pickling_us": pickling,
        "cells": [asdict(c) for c in cells],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(_table(cells, report))


def _measure(
    name: str, extra: list[str], repository: Path, image: bytes, clients: list[int], duration: float
) -> list[Cell]:
    port = free_port()
    command = [sys.executable, "-m", "fovea", "serve", "--port", str(port)]
    command += ["--repository", str(repository), *extra]
    env = {**os.environ, "FOVEA_LOG_LEVEL": "warning", "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(Path(tempfile.gettempdir()) / f"fovea-bench-{name}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    cells = []
    try:
        began = time.monotonic()
        _wait_answering(url, image, process)
        print(f"{name}: answering after {time.monotonic() - began:.0f} s", file=sys.stderr)
        for count in clients:
            before = _cpu_by_kind(process.pid)
            with PeakRss(process.pid) as rss:
                result = anyio.run(
                    lambda c=count: run_load(
                        url, "coco", image, concurrency=c, images_per_request=1, duration_s=duration
                    )
                )
            after = _cpu_by_kind(process.pid)
            # CPU over the whole call (warm-up second included) per request of the window: an
            # upper bound, the same for every server.
            per = (
                {
                    kind: round(
                        1000 * (after.get(kind, 0) - before.get(kind, 0)) / result.requests, 1
                    )
                    for kind in after
                }
                if result.requests
                else {}
            )
            cell = Cell(
                name,
                count,
                round(result.images_per_s, 1),
                round(result.percentile(50), 1),
                round(result.percentile(99), 1),
                result.requests,
                result.errors,
                round(rss.peak_mb),
                per,
            )
            print(f"  {cell}", file=sys.stderr)
            cells.append(cell)
    finally:
        killed = stop_tree(process.pid, grace_s=40)
        if killed:
            print(f"  {name}: killed {len(killed)} processes after 40 s", file=sys.stderr)
        log.close()
    return cells


def _wait_answering(url: str, image: bytes, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        try:
            files = {"files": ("p.jpg", image, "image/jpeg")}
            if httpx.post(f"{url}/v1/models/coco/predict", files=files, timeout=30).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not answer")


def _kind(pid: int) -> str:
    """What a process of the server is: Serve's proxy, Fovea's ingress, a model replica, the
    `fovea serve` driver (the local engine's whole server), or Ray's own (GCS, raylet, agents)."""
    try:
        title = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return "gone"
    if "ProxyActor" in title:
        return "proxy"
    if "ServeReplica:fovea:ingress" in title:
        return "ingress"
    if "ServeReplica:fovea:model-" in title:
        return "replica"
    if title.endswith("python") or "fovea" in title:
        return "driver"
    return "ray"


def _cpu_by_kind(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the server's processes, by kind."""
    totals: dict[str, float] = defaultdict(float)
    for pid in members(root):
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        totals[_kind(pid)] += (int(fields[11]) + int(fields[12])) / TICK
    return dict(totals)


def _pickling_us(image: bytes) -> dict[str, float]:
    """One request's handle call payload, pickled and unpickled as Ray does (cloudpickle for
    arguments is Ray's serializer; plain pickle of the same objects is its fast path)."""
    from fovea.core import Params
    from fovea.models import Repository
    from fovea.serving import Encoded, Priority

    repo = Repository(BUNDLED)
    repo.scan()
    repo.load_all(only="coco")
    served = repo.get("coco")
    context = served.context(Params())
    prediction = served.predict(image)
    args = ("1", Encoded(image), context, Priority.INTERACTIVE, False, False)
    out = {}
    for label, payload in (("arguments", args), ("answer", prediction)):
        rounds = 200
        began = time.perf_counter()
        for _ in range(rounds):
            pickle.loads(pickle.dumps(payload))
        out[label] = round(1e6 * (time.perf_counter() - began) / rounds, 1)
    out["arguments_bytes"] = len(pickle.dumps(args))
    out["answer_bytes"] = len(pickle.dumps(prediction))
    return out


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _table(cells: list[Cell], report: dict[str, object]) -> str:
    lines = [
        "| server | clients | img/s | p50 ms | p99 ms | errors | peak RSS MB | CPU ms/request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        cpu = ", ".join(f"{k} {v:g}" for k, v in sorted(c.cpu_ms_per_request.items()) if v)
        lines.append(
            f"| {c.server} | {c.clients} | {c.images_per_s} | {c.p50_ms} | {c.p99_ms} | "
            f"{c.errors} | {c.peak_rss_mb} | {cpu} |"
        )
    lines.append("")
    lines.append(f"load before: {report['load_before']}")
    lines.append(f"load after: {report['load_after']}")
    lines.append(f"pickling: {report['pickling_us']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
