"""Reloading through the API: POST /v1/repository/reload and the V2 repository extension."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.serving import Service
from tests.helpers import image_bytes, write_model

COLOUR = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
[input]
size = [32, 32]
resize = "stretch"
"""


@pytest.fixture
def folder(model_repo: Path, tmp_path: Path) -> Path:
    onnx = model_repo / "colour-test" / "1" / "model.onnx"
    root = tmp_path / "models"
    for name in ("a", "b"):
        write_model(root, name, COLOUR, {"1": onnx})
    return root


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_repository=folder, workers=1))) as test_client:
        yield test_client


def _predict(client: TestClient, model: str) -> int:
    files = {"files": ("red.png", image_bytes((20, 20), (250, 5, 5), "PNG"))}
    return client.post(f"/v1/models/{model}/predict", files=files).status_code


def test_v1_reload_reports_and_swaps(client: TestClient, folder: Path, model_repo: Path) -> None:
    assert client.post("/v1/repository/reload").json() == {
        "loaded": [],
        "reloaded": [],
        "unloaded": [],
        "failed": {},
    }
    onnx = model_repo / "colour-test" / "1" / "model.onnx"
    write_model(folder, "c", COLOUR, {"1": onnx})
    write_model(folder, "a", COLOUR, {"2": onnx})
    shutil.rmtree(folder / "b")
    (folder / "d").mkdir()
    (folder / "d" / "model.toml").write_text("task = 'detect'\n")
    report = client.post("/v1/repository/reload").json()
    assert (report["loaded"], report["reloaded"], report["unloaded"]) == (["c", "d"], ["a"], ["b"])
    assert "decoder: Field required" in report["failed"]["d"]
    assert client.get("/v1/models/a").json()["default_version"] == "2"
    assert _predict(client, "c") == 200
    assert _predict(client, "b") == 404
    assert client.get("/health/ready").json()["models"] == {
        "a": "ready",
        "c": "ready",
        "d": "failed",
    }


def test_retired_versions_stop_their_batchers(
    client: TestClient, folder: Path, model_repo: Path
) -> None:
    assert _predict(client, "a") == 200
    service: Service = client.app.state.service  # type: ignore[attr-defined]
    old = client.app.state.repository.get("a")  # type: ignore[attr-defined]
    assert old in service.pipeline.batchers._by_model
    write_model(folder, "a", COLOUR, {"2": model_repo / "colour-test" / "1" / "model.onnx"})
    client.post("/v1/repository/reload")
    deadline = time.monotonic() + 5
    while old in service.pipeline.batchers._by_model and time.monotonic() < deadline:
        time.sleep(0.02)
    assert old not in service.pipeline.batchers._by_model


def test_v2_repository_extension(client: TestClient, folder: Path) -> None:
    index = client.post("/v2/repository/index").json()  # tritonclient sends an empty body
    assert index == [
        {"name": "a", "version": "1", "state": "READY", "reason": ""},
        {"name": "b", "version": "1", "state": "READY", "reason": ""},
    ]
    assert (
        client.post(
            "/v2/repository/models/b/unload", json={"parameters": {"unload_dependents": False}}
        ).status_code
        == 200
    )
    assert client.get("/v2/models/b/ready").status_code == 400
    assert client.post("/v2/repository/index", json={"ready": True}).json() == [index[0]]
    assert client.post("/v2/repository/index", json={}).json()[1] == {
        "name": "b",
        "state": "UNAVAILABLE",
        "reason": "unloaded",
    }
    assert client.post("/v1/repository/reload").json()["loaded"] == []  # stays unloaded
    assert client.post("/v2/repository/models/b/load", json={}).status_code == 200
    assert client.get("/v2/models/b/ready").status_code == 200
    for path, body, message in [
        ("/v2/repository/models/zzz/load", None, "no model folder named 'zzz'"),
        ("/v2/repository/models/zzz/unload", None, "no model named 'zzz' is loaded"),
        ("/v2/repository/models/a/load", {"parameters": {"config": "{}"}}, "not supported"),
    ]:
        response = client.post(path, json=body)
        assert response.status_code in (400, 404), response.text
        assert message in response.json()["error"]
    assert client.post("/v2/repository/index", content=b"{nope").status_code == 400
    (folder / "a" / "model.toml").write_text(COLOUR.replace("softmax", "nope"))
    failed = client.post("/v2/repository/models/a/load")
    assert failed.status_code == 400
    assert "failed to load 'a'" in failed.json()["error"]
    assert _predict(client, "a") == 200  # the old version serves on
