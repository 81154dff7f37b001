"""A real two-node Ray cluster on this machine, off the network: each node in a network
namespace the test makes (a veth pair per node on a bridge, addresses from a private /24 chosen
per run), `ray start --head` in one and `ray start --address` in the other, one CPU each.
Traffic goes only to those namespaces' addresses. Everything is torn down by process id (the
`ray start --block` processes and every process under them), then the namespaces and the bridge.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

GCS_PORT = 6379
METRICS_PORT = 8090
BIN = Path(sys.executable).parent


def can_make_namespaces() -> str | None:
    """None when this machine lets the test make namespaces and bridges; else why not."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    name = f"fvchk{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


@dataclass
class Node:
    namespace: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def exec(self, *command: str) -> list[str]:
        """`command` run inside this node's namespace."""
        return ["ip", "netns", "exec", self.namespace, *command]

    def processes(self) -> list[psutil.Process]:
        """The `ray start` process and everything it started (raylet, workers, agents)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class Cluster:
    head: Node
    worker: Node
    subnet: str
    env: dict[str, str]
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def gcs(self) -> str:
        return f"{self.head.address}:{GCS_PORT}"

    @property
    def nodes(self) -> tuple[Node, Node]:
        return self.head, self.worker


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def _ray_env() -> dict[str, str]:
    """Ray's processes without coverage (its workers would each trace and write data files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONUNBUFFERED="1",
        # A head and a worker on one machine: the multi-node check must let the worker in.
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="1",
        # Ray 2.5x's token authentication, with a token made for this cluster alone.
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
    )
    return env


@contextmanager
def network(tag: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A bridge on a random private /24 (its .254 on this side) and two namespaces wired to it
    (.1 and .2); yields the subnet prefix and [(namespace, address)]. Removed afterwards."""
    prefix = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    bridge = f"fvb{tag}"
    made: list[str] = []
    try:
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{prefix}.254/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        nodes = []
        for index in (1, 2):
            namespace, host_side = f"fovea-{tag}-{index}", f"fv{tag}n{index}"
            inner = f"fv{tag}p{index}"
            _run("ip", "netns", "add", namespace)
            made.append(namespace)
            _run(
                "ip",
                "link",
                "add",
                host_side,
                "type",
                "veth",
                "peer",
                "name",
                inner,
                "netns",
                namespace,
            )
            _run("ip", "link", "set", host_side, "master", bridge, "up")
            inside = ("ip", "netns", "exec", namespace)
            _run(*inside, "ip", "addr", "add", f"{prefix}.{index}/24", "dev", inner)
            _run(*inside, "ip", "link", "set", inner, "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            nodes.append((namespace, f"{prefix}.{index}"))
        yield prefix, nodes
    finally:
        for namespace in made:  # the veth pairs go with their namespace
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def _start(namespace: str, address: str, log: Path, env: dict[str, str], *args: str) -> Node:
    command = [
        "ip",
        "netns",
        "exec",
        namespace,
        str(BIN / "ray"),
        "start",
        "--block",
        "--node-ip-address",
        address,
        "--num-cpus",
        "1",
        "--metrics-export-port",
        str(METRICS_PORT),
        "--disable-usage-stats",
        *args,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Node(namespace, address, process, log)


@contextmanager
def two_nodes(tmp: Path, timeout_s: float = 120) -> Iterator[Cluster]:
    """Yield once both nodes are alive in one cluster; tear everything down afterwards."""
    tag = f"{random.randrange(16**4):04x}"
    env = _ray_env()
    with network(tag) as (prefix, addresses):
        (head_ns, head_ip), (worker_ns, worker_ip) = addresses
        nodes: list[Node] = []
        cluster: Cluster | None = None
        try:
            head = _start(
                head_ns,
                head_ip,
                tmp / "head.log",
                env,
                "--head",
                "--port",
                str(GCS_PORT),
                "--include-dashboard",
                "false",
                "--temp-dir",
                f"/tmp/fvr{tag}",
            )
            nodes.append(head)
            _wait_for(lambda: _listening(head_ip, METRICS_PORT), timeout_s, head)
            worker = _start(
                worker_ns, worker_ip, tmp / "worker.log", env, "--address", f"{head_ip}:6379"
            )
            nodes.append(worker)
            cluster = Cluster(head, worker, prefix, env)
            _wait_for(lambda: _alive_nodes(cluster) == 2, timeout_s, worker)
            yield cluster
        finally:
            for process in cluster.extra if cluster else []:
                stop(process)
            for node in reversed(nodes):
                _stop_node(node)
            shutil.rmtree(f"/tmp/fvr{tag}", ignore_errors=True)


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _stop_node(node: Node) -> None:
    """The node's `ray start --block` stops its processes on SIGTERM; any left are killed."""
    tree = node.processes()
    with suppress(ProcessLookupError):
        os.killpg(node.process.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=20)
    for process in alive:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)
    with suppress(subprocess.TimeoutExpired):
        node.process.wait(5)


def _listening(host: str, port: int) -> bool:
    try:
        return httpx.get(f"http://{host}:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _alive_nodes(cluster: Cluster) -> int:
    """Ray's own count, asked from inside the head's namespace."""
    script = "import ray; ray.init(); print(sum(n['Alive'] for n in ray.nodes()))"
    done = subprocess.run(
        cluster.head.exec(str(BIN / "python"), "-c", script),
        env={**cluster.env, "RAY_ADDRESS": cluster.gcs},
        capture_output=True,
        timeout=60,
    )
    lines = done.stdout.decode().split()
    return int(lines[-1]) if done.returncode == 0 and lines else 0


def _wait_for(ready: object, timeout_s: float, node: Node) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():  # type: ignore[operator]
        if node.process.poll() is not None:
            raise RuntimeError(f"ray start exited: {node.log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster did not come up: {node.log.read_text()[-2000:]}")
        time.sleep(1)
