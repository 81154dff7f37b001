"""A real `fovea serve` for tests: live as soon as it answers (test repositories hold broken
models, so it is never 'ready'), with its output kept in a log file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fovea.bench.server import serving


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def untraced() -> Iterator[None]:
    """Processes started inside run without coverage tracing, which slows Python code (not the
    model) several times over: for tests that compare the timing of the two."""
    saved = os.environ.pop("COVERAGE_PROCESS_CONFIG", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["COVERAGE_PROCESS_CONFIG"] = saved


@contextmanager
def fovea_server(repository: Path, log_dir: Path, **env: str) -> Iterator[RunningServer]:
    log_path = log_dir / "server.log"
    env = {"FOVEA_DATA_DIR": str(log_dir / "data"), **env}  # records and patterns stay here
    with (
        log_path.open("wb") as log,
        serving(repository, env=env, output=log, ready_path="/health/live", timeout_s=30) as (
            url,
            process,
        ),
    ):
        yield RunningServer(url, process, log_path)
