"""Keys, rate limits, body limits, CORS, request ids and metrics on a live app."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.logs import JsonFormatter
from tests.helpers import image_bytes


@pytest.fixture
def make_client(model_repo: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(model_repository=model_repo, **settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _predict(client: TestClient, **kwargs: Any) -> Any:
    files = {"files": ("a.jpg", image_bytes((64, 64)), "image/jpeg")}
    return client.post("/v1/models/yolov8-test/predict", files=files, **kwargs)


def test_keys_by_bearer_or_header(make_client: Any) -> None:
    client = make_client(api_keys="secret-1,secret-2")
    missing = _predict(client)
    assert missing.status_code == 401
    assert missing.json()["type"] == "/problems/unauthorized"
    assert _predict(client, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert _predict(client, headers={"Authorization": "Bearer secret-1"}).status_code == 200
    assert _predict(client, headers={"X-API-Key": "secret-2"}).status_code == 200
    assert client.get("/health/live").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_metrics_can_need_a_key(make_client: Any) -> None:
    client = make_client(api_keys="k", metrics_public=False)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": "k"}).status_code == 200


def test_rate_limit_answers_429_with_retry_after(make_client: Any) -> None:
    client = make_client(rate_limit_per_minute=2)
    assert [_predict(client).status_code for _ in range(2)] == [200, 200]
    limited = _predict(client)
    assert limited.status_code == 429
    assert limited.json()["type"] == "/problems/rate-limited"
    assert int(limited.headers["retry-after"]) == 30


def test_request_body_limit(make_client: Any) -> None:
    client = make_client(max_request_bytes=10_000)
    big = {"files": ("a.png", image_bytes((200, 200), fmt="PNG", compress_level=0), "image/png")}
    declared = client.post("/v1/models/yolov8-test/predict", files=big)
    assert (declared.status_code, declared.json()["type"]) == (413, "/problems/request-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts streamed bytes
        for _ in range(20):
            yield b"x" * 1000

    streamed = client.post(
        "/v1/models/yolov8-test/predict",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert (streamed.status_code, streamed.json()["type"]) == (413, "/problems/request-too-large")


def test_cors_is_off_by_default_and_configurable(make_client: Any) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    closed = make_client().options("/v1/models", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    opened = make_client(cors_origins="https://app.example").options(
        "/v1/models", headers=preflight
    )
    assert opened.headers["access-control-allow-origin"] == "https://app.example"


@pytest.mark.parametrize(
    ("given", "echoed"), [("abc-123", True), ("bad id\n", False), (None, False)]
)
def test_request_id_is_taken_or_made(client: TestClient, given: str | None, echoed: bool) -> None:
    headers = {"X-Request-ID": given} if given else {}
    returned = client.get("/health/live", headers=headers).headers["x-request-id"]
    assert (returned == given) is echoed
    assert len(returned) >= 7


def test_metrics_after_a_few_requests(client: TestClient) -> None:
    _predict(client)
    client.post("/v1/models/yolov8-test/predict", files={"files": ("x", b"junk")})
    text = client.get("/metrics").text
    for expected in (
        'fovea_http_requests_total{method="POST",route="/v1/models/{model}/predict",status="200"}',
        'fovea_stage_duration_seconds_count{model="yolov8-test",stage="infer"}',
        'fovea_stage_duration_seconds_count{model="yolov8-test",stage="decode"}',
        'fovea_batch_size_count{model="yolov8-test"}',
        'fovea_images_total{model="yolov8-test",outcome="error"}',
        'fovea_errors_total{type="image-decode"}',
        'fovea_model_loaded{model="broken-onnx",status="failed"} 0.0',
        'fovea_model_loaded{model="yolov8-test",status="ready"} 1.0',
        'fovea_model_load_seconds{model="yolov8-test"}',
        'fovea_queue_depth{model="yolov8-test"} 0.0',
        'fovea_queue_limit{model="overload-test"} 2.0',
        "fovea_http_requests_in_flight",
    ):
        assert expected in text, expected


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("fovea.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.request_id = "r-1"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["request_id"], line["status"]) == ("GET / 200", "r-1", 200)
