"""`fovea camera emulate` as a real process on a free 127.0.0.1 port, for the end-to-end and UI
tests; and a folder of photos for it to serve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from fovea.bench.server import free_port
from tests.helpers import image_bytes


def photo_folder(folder: Path, count: int = 2) -> Path:
    """`count` 640x640 JPEGs (the planted boards ignore the pixels; the size makes them exact)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"board-{n}.jpg").write_bytes(image_bytes((640, 640), (90 + 40 * n, 120, 150)))
    return folder


@contextmanager
def emulated_camera(folder: Path, log_dir: Path) -> Iterator[str]:
    """The emulator's base URL once it answers; stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "fovea", "camera", "emulate", str(folder), "--port", str(port)]
    with (log_dir / "camera.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/basler/get-camera-info", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(
                    f"the camera emulator did not start: {(log_dir / 'camera.log').read_text()}"
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
