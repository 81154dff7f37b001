"""SIGTERM during a request: readiness drops, new work is refused, the request completes, exit 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests import local_http
from tests.servers import fovea_server


def test_sigterm_drains_in_flight_requests_then_exits_zero(
    model_repo: Path, tmp_path: Path
) -> None:
    with (
        local_http.serve() as images,
        fovea_server(model_repo, tmp_path, FOVEA_URL_ALLOWLIST="127.0.0.1") as server,
    ):
        results: list[httpx.Response] = []
        slow = {"inputs": [{"url": f"{images}/slow"}]}  # the image server takes 2 s to answer
        worker = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{server.url}/v1/models/yolov8-test/predict", json=slow, timeout=30)
            )
        )
        worker.start()
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        ready = httpx.get(f"{server.url}/health/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["draining"] is True
        refused = httpx.get(f"{server.url}/v1/models", timeout=5)
        assert refused.status_code == 503
        assert refused.json()["type"] == "/problems/shutting-down"
        worker.join(timeout=30)
        assert results[0].status_code == 200, results[0].text
        assert len(results[0].json()["outputs"][0]["detections"]) == 2
        assert server.process.wait(timeout=15) == 0


def test_sigterm_when_idle_exits_at_once(model_repo: Path, tmp_path: Path) -> None:
    with fovea_server(model_repo, tmp_path) as server:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/health/live", timeout=2)
