"""Models, health, docs and render."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.api.app import create_app
from fovea.config import Settings
from tests import local_http
from tests.helpers import image_bytes


def test_models_list_includes_failed_models_with_reasons(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["broken-toml"]["status"] == "failed"
    assert "input: Field required" in models["broken-toml"]["error"]
    v8 = models["yolov8-test"]
    assert (v8["status"], v8["task"], v8["decoder"]) == ("ready", "detect", "yolov8")
    assert v8["versions"] == ["1", "2"]
    assert v8["default_version"] == "2"
    assert v8["labels"] == ["cat", "dog", "person"]
    assert v8["input"]["size"] == [640, 640]
    assert v8["dynamic_batch"] is True
    assert v8["providers"] == ["CPUExecutionProvider"]
    assert models["yolov5-test"]["dynamic_batch"] is False


def test_one_model(client: TestClient) -> None:
    assert client.get("/v1/models/camtrap-test").json()["labels"] == ["animal", "human"]
    assert client.get("/v1/models/nope").json()["type"] == "/problems/model-not-found"


def test_health(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 503  # two broken models in the test repository
    assert ready.json()["models"]["yolov8-test"] == "ready"


def test_ready_when_every_model_loaded(model_repo: Path, tmp_path: Path) -> None:
    good = tmp_path / "models"
    good.mkdir()
    (good / "colour-test").symlink_to(model_repo / "colour-test")
    with TestClient(create_app(Settings(model_repository=good))) as client:
        assert client.get("/health/ready").status_code == 200


def test_docs_redoc_openapi_and_root_redirect(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/docs"
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/models/{model}/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    assert "PredictRequest" in schema["components"]["schemas"]
    assert "examples" in schema["components"]["schemas"]["PredictResponse"]


@pytest.mark.parametrize(
    ("query", "headers", "kind"),
    [({}, {}, "PNG"), ({"format": "jpeg"}, {}, "JPEG"), ({}, {"accept": "image/jpeg"}, "JPEG")],
)
def test_render_returns_the_annotated_image(
    client: TestClient, query: dict[str, str], headers: dict[str, str], kind: str
) -> None:
    response = client.post(
        "/v1/models/yolov8-test/render",
        params=query,
        headers=headers,
        files={"file": ("a.jpg", image_bytes((1000, 600)), "image/jpeg")},
    )
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == (kind, (1000, 600))
    # The dog box's left edge at x = 312.5 is drawn over the flat background colour.
    assert image.convert("RGB").getpixel((313, 250)) != image.convert("RGB").getpixel((200, 250))


def test_render_mask_and_caption(client: TestClient) -> None:
    red = image_bytes((100, 60), (250, 10, 10), fmt="PNG")
    mask = client.post("/v1/models/red-test/render", files={"file": ("r.png", red)})
    assert (mask.status_code, mask.headers["content-type"]) == (200, "image/png")
    overlay = Image.open(io.BytesIO(mask.content)).convert("RGB")
    # Every pixel is red, so every pixel is the foreground colour blended half over the photo.
    expected = tuple(round((a + b) / 2) for a, b in zip((250, 10, 10), (230, 25, 75), strict=True))
    for xy in [(5, 5), (50, 30), (95, 55)]:
        assert overlay.getpixel(xy) == pytest.approx(expected, abs=1)
    caption = client.post("/v1/models/colour-test/render", files={"file": ("r.png", red)})
    captioned = Image.open(io.BytesIO(caption.content)).convert("RGB")
    corner = np.asarray(captioned)[0:12, 0:40]
    assert (corner == (0, 0, 0)).all(axis=-1).any()  # the caption's box
    assert (corner == (255, 255, 255)).all(axis=-1).any()  # its text
    assert captioned.getpixel((95, 55)) == (250, 10, 10)  # the rest is the photo


def test_render_takes_one_image(client: TestClient) -> None:
    data = image_bytes((64, 64))
    response = client.post(
        "/v1/models/yolov8-test/render", files=[("files", ("a", data)), ("files", ("b", data))]
    )
    assert response.status_code == 413


def test_url_inputs_fetch_concurrently_when_allow_listed(model_repo: Path) -> None:
    settings = Settings(model_repository=model_repo, url_allowlist="127.0.0.1")
    with local_http.serve() as base, TestClient(create_app(settings)) as client:
        inputs = [
            {"id": "ok", "url": f"{base}/image.jpg"},
            {"id": "gone", "url": f"{base}/missing"},
            {"id": "hop", "url": f"{base}/to-other-loopback"},
        ]
        body = client.post("/v1/models/yolov8-test/predict", json={"inputs": inputs}).json()
    assert [o["id"] for o in body["outputs"]] == ["ok"]
    assert len(body["outputs"][0]["detections"]) == 2
    assert body["errors"]["gone"]["type"] == "/problems/url-fetch-failed"
    assert body["errors"]["hop"]["type"] == "/problems/url-refused"
