"""model.toml's [metadata] reaches API clients unchanged (the jobs formats read it there)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fovea.wire import ModelInfo


def test_metadata_is_reported_by_get_models(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["yolov5-test"]["metadata"] == {
        "detector": "md_v5a.0.0.pt",
        "typical_detection_threshold": 0.2,
    }
    assert models["yolov8-test"]["metadata"] == {}
    info = ModelInfo.model_validate(client.get("/v1/models/yolov5-test").json())
    assert info.metadata["typical_detection_threshold"] == 0.2
