"""A model whose graph runs on a second Fovea (a real `fovea serve`), over KServe V2 HTTP and
gRPC: the same detections as the local model; a backend that goes away is a 503 and the model
reads as unavailable."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.bench.server import free_port
from fovea.config import Settings
from fovea.models import BUNDLED
from tests.servers import RunningServer, fovea_server

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
BACKEND = """
[backend]
url = "{url}"
model = "coco"
protocol = "{protocol}"
timeout_s = 30
retries = 1
breaker_failures = 1
breaker_reset_s = 60
"""


@dataclass
class Backend:
    server: RunningServer
    grpc_port: int


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    repo = tmp_path_factory.mktemp("backend") / "models"
    shutil.copytree(BUNDLED / "coco", repo / "coco")
    port = free_port()
    with fovea_server(repo, repo.parent, FOVEA_GRPC_PORT=str(port)) as running:
        yield Backend(running, port)


@pytest.fixture(scope="module")
def local(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    repo = tmp_path_factory.mktemp("local") / "models"
    shutil.copytree(BUNDLED / "coco", repo / "coco")
    toml = (BUNDLED / "coco" / "model.toml").read_text()
    urls = {"http": backend.server.url, "grpc": f"127.0.0.1:{backend.grpc_port}"}
    for protocol, url in urls.items():
        folder = repo / f"coco-{protocol}"
        folder.mkdir()
        shutil.copy(BUNDLED / "coco" / "labels.txt", folder)
        (folder / "model.toml").write_text(toml + BACKEND.format(url=url, protocol=protocol))
    with TestClient(create_app(Settings(model_repository=repo, workers=2))) as client:
        yield client


def _detections(client: TestClient, model: str, photo: str) -> list[dict[str, Any]]:
    files = {"files": (photo, (PHOTOS / photo).read_bytes())}
    response = client.post(f"/v1/models/{model}/predict", files=files)
    assert response.status_code == 200, response.text
    detections: list[dict[str, Any]] = response.json()["outputs"][0]["detections"]
    return detections


@pytest.mark.parametrize("photo", ["astronaut.jpg", "chelsea.jpg", "motorcycle.jpg"])
def test_remote_models_give_the_local_models_detections(local: TestClient, photo: str) -> None:
    here = _detections(local, "coco", photo)
    assert here  # each photo has something in it
    assert _detections(local, "coco-http", photo) == here
    assert _detections(local, "coco-grpc", photo) == here


def test_remote_models_are_listed_with_their_backend(local: TestClient) -> None:
    models = {m["name"]: m for m in local.get("/v1/models").json()["models"]}
    assert models["coco-http"]["status"] == "ready"
    assert models["coco-http"]["providers"][0].startswith("remote http http://127.0.0.1:")
    assert models["coco-grpc"]["providers"][0].startswith("remote grpc 127.0.0.1:")
    meta = local.get("/v2/models/coco-grpc").json()
    assert meta["platform"] == "onnx_onnxv1"  # the backend's graph, as the backend reports it
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 416, 416]}]
    assert local.get("/health/ready").status_code == 200


def test_a_backend_that_is_down_is_503_and_unavailable(local: TestClient, backend: Backend) -> None:
    backend.server.process.send_signal(signal.SIGTERM)
    assert backend.server.process.wait(timeout=30) == 0
    files = {"files": ("a.jpg", (PHOTOS / "chelsea.jpg").read_bytes())}
    for protocol in ("http", "grpc"):
        first = local.post(f"/v1/models/coco-{protocol}/predict", files=files)
        assert first.status_code == 503, first.text
        assert first.json()["type"] == "/problems/backend-unavailable"
        assert first.headers["retry-after"] == "5"
        # The breaker is open now: refused at once, and the model reads as unavailable.
        again = local.post(f"/v1/models/coco-{protocol}/predict", files=files)
        assert again.status_code == 503
        assert again.json()["type"] == "/problems/model-unavailable"
    models = {m["name"]: m["status"] for m in local.get("/v1/models").json()["models"]}
    assert models == {"coco": "ready", "coco-http": "unavailable", "coco-grpc": "unavailable"}
    ready = local.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["models"]["coco-http"] == "unavailable"
    assert local.post("/v1/models/coco/predict", files=files).status_code == 200
    v2 = local.get("/v2/models/coco-http/ready")
    assert v2.status_code == 400
