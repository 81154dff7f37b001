"""A real two-node Ray cluster on this machine's loopback: `ray start --head` and `ray start
--address` (separate raylets, one CPU each), every Ray server on 127.0.0.1. Ray, asked to run a
second node on one machine, swaps 127.0.0.1 for the machine's routable address; the worker's
`ray start` runs through `ray_start.py`, which keeps 127.0.0.1 (the head needs nothing). Each
cluster has its own token (Ray's token authentication) and temp dir. Every process the cluster
started carries FOVEA_RAY_TEST_CLUSTER=<tag> in its environment: teardown stops them by id
(SIGTERM to the `ray start` processes, SIGKILL for what is left), never `ray stop`, which would
stop every Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
START_WORKER = Path(__file__).with_name("ray_start.py")
MARK = "FOVEA_RAY_TEST_CLUSTER"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def processes(self) -> list[psutil.Process]:
        """The `ray start` process and everything under it (raylet, workers, agents)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class Cluster:
    head: Node
    worker: Node
    gcs: str  # 127.0.0.1:PORT
    env: dict[str, str]  # what a process joining this cluster needs (token, loopback)
    tag: str
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def nodes(self) -> tuple[Node, Node]:
        return self.head, self.worker


def ray_env(tag: str) -> dict[str, str]:
    """Ray's processes: no coverage (every worker would trace and write a data file), loopback,
    a token of this cluster's own, the mark teardown finds them by."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONUNBUFFERED="1",
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # 127.0.0.1 stays 127.0.0.1
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
        **{MARK: tag},
    )
    return env


def _start(name: str, program: list[str], extra: list[str], log: Path, env: dict[str, str]) -> Node:
    """`program start --block ... extra` (program: `ray`, or `python ray_start.py`)."""
    metrics = free_port()
    args = ["start", "--block", "--node-ip-address", HOST, "--num-cpus", "1"]
    args += ["--metrics-export-port", str(metrics), "--disable-usage-stats"]
    # Every port free now, none of Ray's fixed defaults (52365, 10001...): another cluster on
    # this machine (a concurrent test run) may hold those.
    for option in ("--dashboard-agent-listen-port", "--dashboard-agent-grpc-port"):
        args += [option, str(free_port())]
    args += ["--runtime-env-agent-port", str(free_port())]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*program, *args, *extra], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Node(name, process, log, metrics)


@contextmanager
def two_nodes(tmp: Path, timeout_s: float = 90) -> Iterator[Cluster]:
    """Yield once both nodes are alive in one cluster; stop everything afterwards."""
    tag = secrets.token_hex(4)
    env = ray_env(tag)
    port = free_port()
    temp_dir = temp_dir_of(tag)
    nodes: list[Node] = []
    try:
        head_args = ["--head", "--port", str(port), "--include-dashboard", "false"]
        head_args += ["--ray-client-server-port", str(free_port())]
        head_args += ["--temp-dir", str(temp_dir)]
        head = _start("head", [str(BIN / "ray")], head_args, tmp / "head.log", env)
        nodes.append(head)
        _wait_for(lambda: _listening(head.metrics_port), timeout_s, head)
        program = [str(BIN / "python"), str(START_WORKER)]
        worker_args = ["--address", f"{HOST}:{port}"]
        worker = _start("worker", program, worker_args, tmp / "worker.log", env)
        nodes.append(worker)
        cluster = Cluster(head, worker, f"{HOST}:{port}", env, tag)
        _wait_for(lambda: _alive_nodes(cluster) == 2, timeout_s, worker)
        yield cluster
    finally:
        stop_marked(tag, [node.process for node in nodes])
        shutil.rmtree(temp_dir, ignore_errors=True)


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def marked(tag: str) -> list[psutil.Process]:
    """Every live process of this cluster: it carries the mark in its environment, or (Ray's
    agents, whose process titles overwrite their environment) holds a file open under the
    cluster's temp dir (its logs)."""
    temp_dir = str(temp_dir_of(tag))
    found = []
    for process in psutil.process_iter():
        with suppress(psutil.Error):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARK) == tag or any(
                f.path.startswith(temp_dir) for f in process.open_files()
            ):
                found.append(process)
    return found


def temp_dir_of(tag: str) -> Path:
    return Path(f"/tmp/fvray-{tag}")  # Ray's socket paths must stay short


def stop_marked(tag: str, roots: list[subprocess.Popen[bytes]], grace_s: float = 30) -> None:
    """SIGTERM the roots (`ray start --block` stops its node in order), wait, then SIGKILL
    every process of the cluster still alive (seen under the roots before, or found now);
    bounded."""
    seen = set(marked(tag))
    for root in roots:
        with suppress(psutil.Error):
            seen |= set(psutil.Process(root.pid).children(recursive=True))
        if root.poll() is None:
            root.terminate()
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(r.poll() is None for r in roots):
        time.sleep(0.5)
    # A few rounds: a process being started while its parent stops may appear after a scan.
    for _ in range(5):
        left = [p for p in seen | set(marked(tag)) if _running(p)]
        if not left:
            break
        for process in left:
            with suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(left, timeout=10)
        time.sleep(1)
    for root in roots:
        with suppress(subprocess.TimeoutExpired):
            root.wait(5)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _listening(port: int) -> bool:
    try:
        return httpx.get(f"http://{HOST}:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _alive_nodes(cluster: Cluster) -> int:
    """Ray's own count of live nodes."""
    script = "import ray; ray.init(); print(sum(n['Alive'] for n in ray.nodes()))"
    done = subprocess.run(
        [str(BIN / "python"), "-c", script],
        env={**cluster.env, "RAY_ADDRESS": cluster.gcs},
        capture_output=True,
        timeout=60,
    )
    lines = done.stdout.decode().split()
    return int(lines[-1]) if done.returncode == 0 and lines else 0


def _wait_for(ready: Callable[[], bool], timeout_s: float, node: Node) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if node.process.poll() is not None:
            raise RuntimeError(f"ray start exited: {node.log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster did not come up: {node.log.read_text()[-2000:]}")
        time.sleep(1)
