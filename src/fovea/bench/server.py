"""Start `fovea serve` in a subprocess on a free loopback port, and read its memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

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


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU the process has used (/proc/PID/stat, clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(
    repository: Path,
    *,
    env: dict[str, str] | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
    ready_path: str = "/health/ready",
    timeout_s: float = 60,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield (url, process) once `ready_path` answers 200; stop the server afterwards."""
    port = free_port()
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
    environment = {**os.environ, "FOVEA_LOG_LEVEL": "warning", **(env or {})}
    process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(url + ready_path):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server at {url} did not become ready")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def started_server(
    repository: Path, extra_env: dict[str, str] | None = None, timeout_s: float = 60
) -> Iterator[tuple[str, int | None]]:
    """Yield (url, pid) of a ready server, for benchmarks."""
    with serving(repository, env=extra_env, timeout_s=timeout_s) as (url, process):
        yield url, process.pid


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
