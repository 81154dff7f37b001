"""Bad input gets the right 4xx and problem type, never a 500."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import local_http
from tests.helpers import image_bytes
from tests.images import png_bomb, truncated_jpeg


def _files(*blobs: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"f{i}", blob, "application/octet-stream")) for i, blob in enumerate(blobs)]


def _json_image(text: str) -> dict[str, Any]:
    return {"json": {"inputs": [{"image": text}]}}


GOOD = image_bytes((64, 64))
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("truncated-jpeg", "yolov8-test", {"files": _files(truncated_jpeg())}, 422, "image-decode"),
    ("zero-bytes", "yolov8-test", {"files": _files(b"")}, 422, "image-decode"),
    ("random-bytes", "yolov8-test", {"files": _files(os.urandom(4096))}, 422, "image-decode"),
    ("png-bomb", "yolov8-test", {"files": _files(png_bomb(20000, 20000))}, 413, "too-many-pixels"),
    ("bad-base64", "yolov8-test", _json_image("not base64 at all!"), 400, "invalid-base64"),
    (
        "base64-not-image",
        "yolov8-test",
        _json_image(base64.b64encode(b"hello").decode()),
        422,
        "image-decode",
    ),
    ("unknown-model", "nope", {"files": _files(GOOD)}, 404, "model-not-found"),
    ("failed-model", "broken-onnx", {"files": _files(GOOD)}, 503, "model-unavailable"),
    ("unknown-version", "yolov8-test?version=9", {"files": _files(GOOD)}, 404, "model-not-found"),
    ("no-files", "yolov8-test", {"files": [("other", ("x", b"1"))]}, 400, "invalid-request"),
    ("too-many-files", "yolov8-test", {"files": _files(*[GOOD] * 9)}, 413, "too-many-images"),
    (
        "too-many-json",
        "yolov8-test",
        {"json": {"inputs": [{"image": base64.b64encode(GOOD).decode()}] * 9}},
        413,
        "too-many-images",
    ),
    (
        "empty-json",
        "yolov8-test",
        {"content": b"", "headers": {"content-type": "application/json"}},
        400,
        "invalid-request",
    ),
    (
        "broken-json",
        "yolov8-test",
        {"content": b"{nope", "headers": {"content-type": "application/json"}},
        400,
        "invalid-request",
    ),
    ("no-inputs", "yolov8-test", {"json": {"inputs": []}}, 422, "invalid-parameter"),
    (
        "image-and-url",
        "yolov8-test",
        {"json": {"inputs": [{"image": "AA==", "url": "http://a"}]}},
        422,
        "invalid-parameter",
    ),
    (
        "duplicate-ids",
        "yolov8-test",
        {"json": {"inputs": [{"id": "a", "url": "http://x"}, {"id": "a", "url": "http://y"}]}},
        422,
        "invalid-parameter",
    ),
    (
        "threshold-out-of-range",
        "yolov8-test?score_threshold=1.5",
        {"files": _files(GOOD)},
        422,
        "invalid-parameter",
    ),
    (
        "json-threshold-out-of-range",
        "yolov8-test",
        {"json": {"inputs": [{"image": "AA=="}], "params": {"score_threshold": -1}}},
        422,
        "invalid-parameter",
    ),
    (
        "unknown-class",
        "yolov8-test?classes=unicorn",
        {"files": _files(GOOD)},
        422,
        "invalid-parameter",
    ),
    (
        "wrong-content-type",
        "yolov8-test",
        {"content": GOOD, "headers": {"content-type": "image/jpeg"}},
        415,
        "unsupported-media-type",
    ),
    (
        "ftp-url",
        "yolov8-test",
        {"json": {"inputs": [{"url": "ftp://example.org/a.jpg"}]}},
        400,
        "url-refused",
    ),
]


@pytest.mark.parametrize(
    ("model", "kwargs", "status", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(
    client: TestClient, model: str, kwargs: dict[str, Any], status: int, kind: str
) -> None:
    response = client.post(
        f"/v1/models/{model.replace('?', '/predict?', 1)}"
        if "?" in model
        else f"/v1/models/{model}/predict",
        **kwargs,
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{kind}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]


def test_url_to_loopback_is_refused_when_not_allow_listed(client: TestClient) -> None:
    with local_http.serve() as base:
        response = client.post(
            "/v1/models/yolov8-test/predict", json={"inputs": [{"url": f"{base}/image.jpg"}]}
        )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/url-refused"
    assert "FOVEA_URL_ALLOWLIST" in response.json()["detail"]


def test_unavailable_model_says_when_to_retry(client: TestClient) -> None:
    response = client.post("/v1/models/broken-onnx/predict", files=_files(GOOD))
    assert response.headers["retry-after"] == "5"


def test_unknown_route_and_method_are_problems_too(client: TestClient) -> None:
    missing = client.get("/v9/nothing")
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/not-found")
    wrong = client.get("/v1/models/yolov8-test/predict")
    assert (wrong.status_code, wrong.json()["type"]) == (405, "/problems/method-not-allowed")


def test_problem_types_resolve_to_descriptions(client: TestClient) -> None:
    response = client.get("/problems/too-many-pixels")
    assert response.json()["status"] == 413
    assert "decompression bomb" in response.json()["description"]
    assert client.get("/problems/no-such-thing").status_code == 404
