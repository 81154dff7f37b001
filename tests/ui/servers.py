"""Start a real `fovea serve` and `fovea ui` as subprocesses on free 127.0.0.1 ports, for the UI
tests and for tests/ui/screenshots.py."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BUNDLED = Path(__file__).parents[2] / "src" / "fovea" / "bundled_models"


class StartFailed(RuntimeError):
    """A server did not answer in time; the message carries its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


def demo_repository(root: Path) -> Path:
    """root/models: the bundled models, as `make run` serves them."""
    models = root / "models"
    models.mkdir()
    for folder in sorted(BUNDLED.iterdir()):
        if (folder / "model.toml").exists():
            (models / folder.name).symlink_to(folder)
    return models


@contextmanager
def not_fovea_server() -> Iterator[str]:
    """Another web service on a free port: 200 with an HTML page for every GET."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>not an API</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


@contextmanager
def _process(
    args: list[str], ready_url: str, log_path: Path, env: dict[str, str]
) -> Iterator[None]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(ready_url, process, log_path)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise StartFailed(f"{url} did not answer:\n{log_path.read_text(errors='replace')}")


@contextmanager
def api_server(repository: Path | None, log_dir: Path, **env_overrides: str) -> Iterator[str]:
    """`fovea serve` on a free port, yielded once every model has loaded or failed."""
    port = free_port()
    args = [sys.executable, "-m", "fovea", "serve", "--port", str(port)]
    args += ["--repository", str(repository)] if repository else []
    data = str(log_dir / "data")  # records and patterns stay in the test's folder
    env = {**os.environ, "FOVEA_LOG_LEVEL": "warning", "FOVEA_DATA_DIR": data, **env_overrides}
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/health/live", log_dir / "api.log", env):
        _wait_settled(url)
        yield url


def _wait_settled(url: str) -> None:
    """Until no model is still loading (a failed model is settled, not ready)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = httpx.get(f"{url}/health/ready", timeout=5).json()["models"]
        if "loading" not in statuses.values():
            return
        time.sleep(0.2)


@contextmanager
def ui_server(api_url: str, log_dir: Path) -> Iterator[str]:
    """`fovea ui` on a free port, talking to api_url."""
    port = free_port()
    args = [sys.executable, "-m", "fovea", "ui", "--port", str(port), "--api-url", api_url]
    url = f"http://127.0.0.1:{port}"
    with _process(args, f"{url}/_stcore/health", log_dir / "ui.log", dict(os.environ)):
        yield url
