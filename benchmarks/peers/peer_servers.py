"""The servers compared, and starting one on a free loopback port until it answers."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from proctree import stop_tree

from fovea.bench.server import free_port, started_server
from fovea.models import BUNDLED

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
LOGS = HERE / "logs"
ROUTE = "/v1/models/coco/predict"
# No telemetry, no network: the machine reaches only the package registries.
PEER_ENV = {"BENTOML_DO_NOT_TRACK": "true", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass(frozen=True)
class Server:
    name: str
    how: str  # one line for the docs: what the server does with a request
    argv: tuple[str, ...] = ()  # in the peers' venv; `--port N` is appended. Empty: Fovea
    needs: str = ""  # module the peer imports, to tell whether it is installed
    stop_grace_s: float = 15.0  # from SIGTERM to SIGKILL; Ray Serve takes ~5-8 s to stop

    @property
    def is_fovea(self) -> bool:
        return not self.argv


SERVERS = (
    Server(
        "fovea",
        "`fovea serve`: each image's decode, inference and postprocess on one of a bounded set "
        "of worker threads (one per core; batching is off on CPU), admission control; glibc "
        "malloc tuned at start",
        stop_grace_s=2,  # after the 30 s that `started_server` already waits
    ),
    Server(
        "fastapi-async",
        "FastAPI `async def` endpoint running the model on the event loop (the tutorials' way)",
        ("python", "fastapi_async.py"),
        "fastapi",
    ),
    Server(
        "fastapi-threadpool",
        "FastAPI plain `def` endpoint: FastAPI's threadpool (40 threads), one shared session",
        ("python", "fastapi_threadpool.py"),
        "fastapi",
    ),
    Server(
        "litserve",
        "LitServe defaults: one inference worker process behind the API process",
        ("python", "litserve_app.py"),
        "litserve",
        stop_grace_s=2,  # LitServe ignores SIGTERM and SIGINT to its main process: killed
    ),
    Server(
        "litserve-batch8",
        "LitServe with `max_batch_size=8, batch_timeout=0.01`, one `infer` call per batch",
        ("python", "litserve_batch.py"),
        "litserve",
        stop_grace_s=2,  # LitServe ignores SIGTERM and SIGINT to its main process: killed
    ),
    Server(
        "bentoml",
        "BentoML defaults: `@bentoml.service` with a sync `@bentoml.api` (1 worker, 1 thread)",
        ("bentoml", "serve", "bentoml_service:Coco", "--host", "127.0.0.1"),
        "bentoml",
    ),
    Server(
        "rayserve-1",
        "Ray Serve, FastAPI ingress with a `def` route, 1 replica (up to 5 requests at once)",
        ("python", "rayserve_app.py", "--replicas", "1"),
        "ray.serve",
    ),
    Server(
        "rayserve-2",
        "Ray Serve as above with 2 replicas (one per core)",
        ("python", "rayserve_app.py", "--replicas", "2"),
        "ray.serve",
    ),
)


def probe(url: str, image: bytes, timeout_s: float = 30) -> dict[str, Any] | None:
    """One predict request; its JSON if the server answered 200."""
    files = {"files": ("photo.jpg", image, "image/jpeg")}
    try:
        response = httpx.post(url + ROUTE, files=files, timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def started(server: Server, image: bytes, timeout_s: float = 180) -> Iterator[tuple[str, int]]:
    """Yield (url, root pid) of the server, answering predictions; stop all of it afterwards."""
    if server.is_fovea:
        yield from _started_fovea(server)
        return
    port = free_port()
    LOGS.mkdir(exist_ok=True)
    argv = [str(VENV / "bin" / server.argv[0]), *server.argv[1:], "--port", str(port)]
    with (LOGS / f"{server.name}.log").open("w") as log:
        process = subprocess.Popen(
            argv,
            cwd=HERE,
            env={**os.environ, **PEER_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the server's processes are then its session's
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_answering(url, image, process, timeout_s, server.name)
        yield url, process.pid
    finally:
        killed = stop_tree(process.pid, server.stop_grace_s)
        process.wait(timeout=30)
        if killed:
            print(f"  {server.name}: {len(killed)} process(es) left after SIGTERM, killed")


def _started_fovea(server: Server) -> Iterator[tuple[str, int]]:
    root = None
    try:
        with _fovea_repository() as repository, started_server(repository) as (url, pid):
            assert pid is not None
            root = pid
            yield url, pid
    except subprocess.TimeoutExpired as exc:  # `started_server` waits 30 s after SIGTERM
        raise RuntimeError("`fovea serve` did not exit within 30 s of SIGTERM") from exc
    finally:
        if root is not None and (killed := stop_tree(root, server.stop_grace_s)):
            print(f"  {server.name}: {len(killed)} process(es) left after SIGTERM, killed")


@contextmanager
def _fovea_repository() -> Iterator[Path]:
    """A repository holding only `coco`, so that Fovea loads what the peers load."""
    with tempfile.TemporaryDirectory(prefix="fovea-peers-") as folder:
        (Path(folder) / "coco").symlink_to(BUNDLED / "coco", target_is_directory=True)
        yield Path(folder)


def _wait_answering(
    url: str, image: bytes, process: subprocess.Popen[bytes], timeout_s: float, name: str
) -> None:
    deadline = time.monotonic() + timeout_s
    while probe(url, image, timeout_s=10) is None:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log_tail(name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer in {timeout_s:.0f} s: {log_tail(name)}")
        time.sleep(0.5)


def log_tail(name: str, lines: int = 15) -> str:
    path = LOGS / f"{name}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
