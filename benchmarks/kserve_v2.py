"""KServe V2 binary infer of `coco`'s input tensor against the model-only limit, in one run.

The limit: the same ONNX Runtime session (Fovea's options, one intra-op thread) run in this
process by as many threads as there are cores, on the tensor `coco` makes of the benchmark photo.
Then `fovea serve` (coco only, untraced) is loaded by N closed-loop clients, each posting that
tensor as one V2 binary request (Triton's binary tensor extension) and reading every output.
On a machine shared with others the two alternate in short rounds, so that the others' load
falls on both alike; it reports the ratio of the sums and the median of the rounds' ratios.

    .venv/bin/python benchmarks/kserve_v2.py --clients 16 --duration 5 --rounds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from fovea.bench.server import rss_mb, started_server
from fovea.models import BUNDLED, Repository
from fovea.vision import Limits, load_image

PHOTO = Path(__file__).parent / "photo-1280x960.jpg"
HEADER = "Inference-Header-Content-Length"


def coco_tensor(repository: Repository) -> np.ndarray:
    model = repository.get("coco")
    prepared = model.prepare(load_image(PHOTO.read_bytes(), Limits(), draft_wh=model.input_wh))
    return np.ascontiguousarray(prepared.tensor[None], np.float32)


def model_only(repository: Repository, tensor: np.ndarray, workers: int, seconds: float) -> float:
    session = repository.get("coco").session
    for _ in range(3):
        session.run(tensor)
    counts = [0] * workers
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < stop:
            session.run(tensor)
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def model_cpu_ms(repository: Repository, tensor: np.ndarray, runs: int = 30) -> float:
    """CPU time of one session.run on one thread: unlike wall time, others' load leaves it be."""
    session = repository.get("coco").session
    started = time.process_time()
    for _ in range(runs):
        session.run(tensor)
    return (time.process_time() - started) / runs * 1000


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _served_requests(url: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(url + "/metrics").read().decode()
    prefix = 'fovea_http_requests_total{method="POST",route="/v2/models/{model}/infer"'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def v2_body(tensor: np.ndarray) -> tuple[bytes, dict[str, str]]:
    data = tensor.tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(tensor.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    headers = {HEADER: str(len(header)), "Accept-Encoding": "identity"}
    return header + data, headers


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """One keep-alive HTTP/1.1 exchange; the status, and whether the answer was binary."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    await reader.readexactly(int(fields.get("content-length", "0")))
    return int(lines[0].split()[1]), HEADER.lower() in fields


async def load(
    url: str, body: bytes, headers: dict[str, str], clients: int, seconds: float
) -> tuple[int, int, list[float], float]:
    """Closed-loop clients on raw keep-alive connections: httpx would spend more of the shared
    cores than the server does per request."""
    host, port = url.removeprefix("http://").split(":")
    fields = {**headers, "Host": f"{host}:{port}", "Content-Length": str(len(body))}
    request = (
        "POST /v2/models/coco/infer HTTP/1.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        + "\r\n"
    ).encode() + body
    ok = errors = 0
    latencies: list[float] = []
    start = time.perf_counter() + 2.0  # warm-up
    stop = start + seconds

    async def one() -> None:
        nonlocal ok, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while (sent := time.perf_counter()) < stop:
            status, binary = await _post(reader, writer, request)
            done = time.perf_counter()
            if start <= done <= stop:
                if status == 200 and binary:
                    ok += 1
                    latencies.append((done - sent) * 1000)
                else:
                    errors += 1
        writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(clients)))
    return ok, errors, latencies, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"load average at start: {os.getloadavg()}")
    limits, served, latencies, errors, cpu = [], [], [], 0, 0.0
    os.environ.pop("COVERAGE_PROCESS_CONFIG", None)  # an untraced server
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "models"
        shutil.copytree(BUNDLED / "coco", root / "coco")
        repository = Repository(root)
        repository.scan()
        repository.load_all()
        tensor = coco_tensor(repository)
        body, headers = v2_body(tensor)
        with started_server(root) as (url, pid):
            for round_ in range(args.rounds):
                limits.append(model_only(repository, tensor, cores, args.duration))
                result = asyncio.run(load(url, body, headers, args.clients, args.duration))
                served.append(result[0] / args.duration)
                errors, cpu = errors + result[1], cpu + result[3]
                latencies += result[2]
                print(
                    f"round {round_ + 1}: model-only {limits[-1]:.1f}/s ({cores} threads), "
                    f"V2 {served[-1]:.1f}/s = {served[-1] / limits[-1]:.3f}x; "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
            rss = rss_mb(pid) if pid else None
            # The server's CPU per request against the model's own, one client at a time.
            assert pid is not None
            model_ms = model_cpu_ms(repository, tensor)
            requests, cpu_s = _served_requests(url), _process_cpu_s(pid)
            asyncio.run(load(url, body, headers, 1, args.duration))
            requests, cpu_s = _served_requests(url) - requests, _process_cpu_s(pid) - cpu_s
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99))
    print(
        f"V2 binary infer, {args.clients} clients: {sum(served) / len(served):.1f} inferences/s "
        f"= {sum(served) / sum(limits):.3f} x the model-only limit (median of the rounds "
        f"{float(np.median([a / b for a, b in zip(served, limits, strict=True)])):.3f}x) "
        f"({sum(limits) / len(limits):.1f}/s); p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
        f"{errors} errors; generator CPU {cpu:.1f} s; server RSS {rss:.0f} MB"
    )
    server_ms = cpu_s / requests * 1000
    print(
        f"CPU per inference: session.run {model_ms:.1f} ms, server per V2 request "
        f"{server_ms:.1f} ms ({requests:.0f} requests): at most {model_ms / server_ms:.3f}x "
        "the limit on an otherwise idle machine"
    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
