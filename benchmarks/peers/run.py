"""Fovea against the peers: the bundled `coco` model served by Fovea, plain FastAPI, LitServe,
BentoML and Ray Serve, each driven by Fovea's own load generator with the same settings.

    .venv/bin/python benchmarks/peers/run.py [--duration 10] [--concurrency 1,4,16,64] [--rounds 2]

The peers live in their own venv, benchmarks/peers/.venv, made here on first use. Each round
starts every server in turn (the order reversed every other round), loads it at each
concurrency, stops it with all its processes; the report takes the median over rounds. Writes
the section "Fovea against the peers" of docs/benchmarks.md, docs/benchmarks-peers.png and
benchmarks/peers/results.json.
"""

from __future__ import annotations

import argparse
import functools
import math
import shlex
import statistics
import subprocess
import sys
import time
import tomllib
import venv
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import anyio
import fovea_peer
import writeup
from peer_servers import HERE, SERVERS, VENV, Server, log_tail, probe, started
from proctree import PeakRss

from fovea.bench.load import run_load

REPO = HERE.parents[1]
IMAGE = REPO / "benchmarks" / "photo-1280x960.jpg"
INSTALLED = VENV / ".installed-peers"
VERSIONS = ("onnxruntime", "numpy", "pillow", "fastapi", "uvicorn", "starlette")
VERSIONS_PEERS = (*VERSIONS, "litserve", "bentoml", "ray")


@dataclass(frozen=True)
class Cell:
    """One server at one concurrency in one round."""

    server: str
    round: int
    concurrency: int
    images_per_s: float
    p50_ms: float | None  # None: no request started and ended inside the window
    p95_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int
    generator_cpu_s: float
    generator_cpu_pct: float  # of one core, over the whole run including warm-up
    peak_rss_mb: float


@dataclass
class Record:
    """Everything measured so far; written out after every server."""

    cells: list[Cell] = field(default_factory=list)
    answers: dict[str, bool] = field(default_factory=dict)  # same detections as Fovea's
    problems: dict[str, str] = field(default_factory=dict)  # what went wrong, per server
    lifecycle: list[dict[str, Any]] = field(default_factory=list)  # start and stop seconds

    def failed(self, server: str, problem: str) -> None:
        self.problems[server] = "; ".join(filter(None, (self.problems.get(server), problem)))


def main() -> None:
    args = _arguments()
    image = IMAGE.read_bytes()
    servers = [s for s in SERVERS if s.name in args.servers]
    record = Record(problems=_prepare_peers(servers))
    runnable = [s for s in servers if s.name not in record.problems]
    _say(f"servers: {', '.join(s.name for s in runnable)}; about {_estimate(args, runnable)}")
    reference = _reference_answer(image)
    versions = {
        "fovea": writeup.versions(sys.executable, VERSIONS),
        "peers": writeup.versions(str(VENV / "bin" / "python"), VERSIONS_PEERS),
    }
    started_at = time.monotonic()
    for round_ in range(args.rounds):
        order = runnable if round_ % 2 == 0 else runnable[::-1]
        for server in order:
            try:
                _measure(server, round_, image, args, reference, record)
            except Exception as exc:  # a peer that breaks must not stop the others
                record.failed(server.name, f"round {round_ + 1}: {exc}")
                _say(f"{server.name}: {exc}\n{log_tail(server.name)}")
            _write(args, servers, record, versions, started_at)
    _say(f"done in {(time.monotonic() - started_at) / 60:.1f} min")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per run")
    parser.add_argument("--concurrency", default="1,4,16,64", help="clients, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each server")
    parser.add_argument(
        "--servers",
        default=",".join(s.name for s in SERVERS),
        help="comma-separated subset of: " + ", ".join(s.name for s in SERVERS),
    )
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.servers = args.servers.split(",")
    if unknown := set(args.servers) - {s.name for s in SERVERS}:
        parser.error(f"unknown servers {sorted(unknown)}")
    if "fovea" not in args.servers:
        parser.error("the ratios are to Fovea: keep fovea in --servers")
    return args


def _prepare_peers(servers: list[Server]) -> dict[str, str]:
    """Make the peers' venv if needed; the servers that cannot run, with the reason."""
    peers = [s for s in servers if not s.is_fovea]
    if peers and not _installed():
        _install()
    problems = {}
    for server in peers:
        if error := _import_error(server.needs):
            problems[server.name] = f"not installed in {VENV.relative_to(REPO)}: {error}"
    return problems


def _import_error(module: str) -> str | None:
    """Why the peers' venv cannot import `module` (its last line of error), or None."""
    argv = [str(VENV / "bin" / "python"), "-c", f"import fovea_peer, {module}"]
    try:
        check = subprocess.run(argv, cwd=HERE, capture_output=True, text=True)
    except OSError as exc:
        return str(exc)
    if check.returncode == 0:
        return None
    return (check.stderr.strip().splitlines() or [f"exit status {check.returncode}"])[-1]


def _installed() -> bool:
    pyproject = REPO / "pyproject.toml"
    return INSTALLED.exists() and INSTALLED.stat().st_mtime >= pyproject.stat().st_mtime


def _install() -> None:
    """One resolver run for Fovea (editable) and the `peers` extra; if that fails, each
    framework alone, so that one that cannot install here does not take the others down."""
    if not (VENV / "bin" / "python").exists():
        _say(f"creating {VENV.relative_to(REPO)}")
        venv.create(VENV, with_pip=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    _say("installing the peers (a few minutes, once)")
    if subprocess.run([*pip, "-e", f"{REPO}[peers]"]).returncode != 0:
        subprocess.run([*pip, "-e", str(REPO)], check=True)
        for requirement in _peers_extra():
            if subprocess.run([*pip, requirement]).returncode != 0:
                _say(f"could not install {requirement}")
    INSTALLED.touch()


def _peers_extra() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["peers"])


def _reference_answer(image: bytes) -> list[tuple[str, list[float]]]:
    """Fovea's detections for the photo, computed in this process: every server must agree."""
    return _detections(fovea_peer.predict(fovea_peer.load_model(), image))


def _detections(body: dict[str, Any]) -> list[tuple[str, list[float]]]:
    return [(d["label"], d["box"]) for d in body["outputs"][0]["detections"]]


def _measure(
    server: Server,
    round_: int,
    image: bytes,
    args: argparse.Namespace,
    reference: list[tuple[str, list[float]]],
    record: Record,
) -> None:
    _say(f"round {round_ + 1}: starting {server.name}")
    began = time.monotonic()
    with started(server, image) as (url, pid):
        ready = time.monotonic()
        body = probe(url, image)
        record.answers[server.name] = body is not None and _detections(body) == reference
        for clients in args.concurrency:
            record.cells.append(_cell(server, round_, url, pid, image, clients, args.duration))
        stopping = time.monotonic()
    start_s, stop_s = round(ready - began, 1), round(time.monotonic() - stopping, 1)
    lifecycle = {"server": server.name, "round": round_ + 1, "start_s": start_s, "stop_s": stop_s}
    record.lifecycle.append(lifecycle)
    _say(f"  {server.name}: answering {start_s} s after start, stopped in {stop_s} s")


def _cell(
    server: Server, round_: int, url: str, pid: int, image: bytes, clients: int, duration: float
) -> Cell:
    load = functools.partial(
        run_load, url, "coco", image, concurrency=clients, images_per_request=1, duration_s=duration
    )
    began = time.perf_counter()
    with PeakRss(pid) as rss:
        result = anyio.run(load)
    wall = time.perf_counter() - began
    cell = Cell(
        server.name,
        round_ + 1,
        clients,
        round(result.images_per_s, 1),
        _ms(result.percentile(50)),
        _ms(result.percentile(95)),
        _ms(result.percentile(99)),
        result.requests,
        result.errors,
        round(result.client_cpu_s, 2),
        round(100 * result.client_cpu_s / wall, 1),
        round(rss.peak_mb, 1),
    )
    _say(
        f"  {server.name:<18} {clients:>3} clients: {cell.images_per_s:6.1f} img/s, "
        f"p99 {cell.p99_ms} ms, errors {cell.errors}, generator CPU "
        f"{cell.generator_cpu_pct:.0f}%, peak RSS {cell.peak_rss_mb:.0f} MB"
    )
    if result.requests == 0:
        _say(f"  no request started and ended inside the {duration:g} s window: longer --duration")
    return cell


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def median_cells(cells: list[Cell]) -> list[Cell]:
    """One cell per (server, concurrency): the median of every number over the rounds."""
    groups: dict[tuple[str, int], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.server, cell.concurrency), []).append(cell)
    return [
        Cell(
            server=server,
            round=len(group),  # for a median, how many rounds it is of
            concurrency=clients,
            **_medians(group),
        )
        for (server, clients), group in groups.items()
    ]


def _medians(group: list[Cell]) -> dict[str, Any]:
    numbers = [f.name for f in fields(Cell)][3:]
    return {n: _median([getattr(c, n) for c in group]) for n in numbers}


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


def _write(
    args: argparse.Namespace,
    servers: list[Server],
    record: Record,
    versions: dict[str, dict[str, str]],
    started_at: float,
) -> None:
    command = shlex.join([".venv/bin/python", "benchmarks/peers/run.py", *sys.argv[1:]])
    settings = {
        "duration_s": args.duration,
        "warmup_s": 1.0,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "images_per_request": 1,
        "image_kb": round(IMAGE.stat().st_size / 1000),
        "minutes": round((time.monotonic() - started_at) / 60, 1),
    }
    writeup.write(
        REPO,
        writeup.Report(
            command=command,
            settings=settings,
            servers=[
                {"name": s.name, "how": s.how, "problem": record.problems.get(s.name)}
                for s in servers
            ],
            answers=record.answers,
            versions=versions,
            lifecycle=record.lifecycle,
            rounds=[asdict(c) for c in record.cells],
            medians=[asdict(c) for c in median_cells(record.cells)],
        ),
    )


def _estimate(args: argparse.Namespace, servers: list[Server]) -> str:
    """Start and stop as measured here (Ray ~18 s, the others 2-5 s), then every load run:
    its warm-up, its duration and the tail of requests still in flight (~1 s on average)."""
    start_stop = sum(18 if s.name.startswith("rayserve") else 4 for s in servers)
    runs = len(servers) * len(args.concurrency) * (args.duration + 2)
    return f"{args.rounds * (start_stop + runs) / 60:.0f} min"


def _say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    main()
