"""Run `fovea serve` in a subprocess on a free loopback port, for tests that need a real one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fovea_server(repository: Path, log_dir: Path, **env: str) -> Iterator[RunningServer]:
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    environment = {**os.environ, "FOVEA_LOG_LEVEL": "warning", **env}
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
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health/live", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"server did not start: {log_path.read_text()}") from None
                time.sleep(0.1)
        yield RunningServer(url, process, log_path)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
