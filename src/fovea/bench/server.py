"""Start `fovea serve` in a subprocess for a benchmark, and read its memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def started_server(
    repository: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 60
) -> Iterator[tuple[str, int | None]]:
    """Yield (url, pid) of a ready server on a free loopback port; stop it afterwards."""
    port = free_port()
    env = {**os.environ, "FOVEA_LOG_LEVEL": "warning", **(extra_env or {})}
    command = [
        sys.executable,
        "-m",
        "fovea",
        "serve",
        "--port",
        str(port),
        "--repository",
        str(repository),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server at {url} did not become ready")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
