"""WS /v1/models/{model}/stream: one answer per frame in order, both policies under a slow model,
bad frames, API keys (header or query), refusals with a close code, and metrics."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.wire import StreamReady, StreamResult, read_stream_message
from tests.helpers import image_bytes

PHOTO = image_bytes((1000, 600))  # planted boxes: tests/api/test_predict.py EXPECTED
DOG = [312.5, 112.5, 625.0, 425.0]


def messages(ws: WebSocketTestSession, count: int) -> list[Any]:
    return [read_stream_message(ws.receive_text()) for _ in range(count)]


def test_wait_answers_every_frame_in_order(api: TestClient) -> None:
    with api.websocket_connect("/v1/models/yolov8-test/stream?max_in_flight=2") as ws:
        ready = read_stream_message(ws.receive_text())
        assert isinstance(ready, StreamReady)
        assert (ready.policy, ready.max_in_flight, ready.task) == ("wait", 2, "detect")
        for _ in range(5):
            ws.send_bytes(PHOTO)
        ws.send_json({"image": base64.b64encode(PHOTO).decode(), "id": "json-frame"})
        answers = messages(ws, 6)
    assert [(a.type, a.seq) for a in answers] == [("result", i) for i in range(6)]
    assert answers[5].id == "json-frame"
    assert answers[5].output.id == "json-frame"
    for answer in answers:
        assert isinstance(answer, StreamResult)
        found = {d.label: d.box for d in answer.output.detections or []}
        np.testing.assert_allclose(found["dog"], DOG, atol=1.0)
        assert answer.output.timing.infer > 0
        assert answer.latency_ms > 0


def test_wait_answers_every_frame_of_a_slow_model(api: TestClient) -> None:
    with api.websocket_connect("/v1/models/overload-test/stream?policy=wait&max_in_flight=1") as ws:
        ws.receive_text()
        for _ in range(6):
            ws.send_bytes(PHOTO)
        answers = messages(ws, 6)
    assert [(a.type, a.seq) for a in answers] == [("result", i) for i in range(6)]


def test_drop_oldest_drops_stale_frames_of_a_slow_model(api: TestClient) -> None:
    query = "policy=drop_oldest&max_in_flight=1"
    with api.websocket_connect(f"/v1/models/overload-test/stream?{query}") as ws:
        ws.receive_text()
        for _ in range(10):  # far faster than the model: frame 0 is still running
            ws.send_bytes(PHOTO)
        answers = messages(ws, 10)
    kinds = [a.type for a in answers]
    assert [a.seq for a in answers] == list(range(10))
    assert kinds[0] == "result"
    assert kinds[-1] == "result"  # the newest frame is always answered
    assert kinds.count("dropped") >= 5
    metrics = api.get("/metrics").text
    assert 'fovea_stream_frames_total{model="overload-test",outcome="dropped"}' in metrics


def test_bad_frames_get_an_error_message_not_a_closed_socket(api: TestClient) -> None:
    with api.websocket_connect("/v1/models/yolov8-test/stream") as ws:
        ws.receive_text()
        ws.send_bytes(b"not an image")
        ws.send_text("{not json")
        ws.send_json({"image": "!!!", "id": "b64"})
        ws.send_bytes(PHOTO)
        answers = messages(ws, 4)
    problems = [(a.type, a.seq, a.problem.type if a.type == "error" else None) for a in answers]
    assert problems == [
        ("error", 0, "/problems/image-decode"),
        ("error", 1, "/problems/invalid-request"),
        ("error", 2, "/problems/invalid-base64"),
        ("result", 3, None),
    ]
    assert answers[2].id == "b64"


def test_tracking_on_a_stream(api: TestClient) -> None:
    with api.websocket_connect("/v1/models/yolov8-test/stream?track=true&max_in_flight=1") as ws:
        assert read_stream_message(ws.receive_text()).tracking is True  # type: ignore[union-attr]
        for _ in range(3):
            ws.send_bytes(PHOTO)
        answers = messages(ws, 3)
    ids = [{d.label: d.tracker_id for d in a.output.detections} for a in answers]
    assert ids[0] == {"dog": None, "person": None}
    assert ids[1] == ids[2]
    assert None not in ids[1].values()


@pytest.mark.parametrize(
    ("path", "code", "problem"),
    [
        ("/v1/models/nope/stream", 4404, "model-not-found"),
        ("/v1/models/broken-onnx/stream", 4503, "model-unavailable"),
        ("/v1/models/yolov8-test/stream?max_in_flight=9", 4422, "invalid-parameter"),
        ("/v1/models/yolov8-test/stream?policy=newest", 4422, "invalid-parameter"),
        ("/v1/models/yolov8-test/stream?classes=unicorn", 4422, "invalid-parameter"),
    ],
)
def test_a_refused_stream_says_why_and_closes_with_4000_plus_status(
    api: TestClient, path: str, code: int, problem: str
) -> None:
    assert refusal(api, path) == (code, f"/problems/{problem}")


def refusal(client: TestClient, path: str, **headers: str) -> tuple[int, str]:
    with client.websocket_connect(path, headers=headers) as ws:
        message = read_stream_message(ws.receive_text())
        assert message.type == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return closed.value.code, message.problem.type


@pytest.fixture(scope="module")
def keyed(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    repository = tmp_path_factory.mktemp("keyed") / "models"
    repository.mkdir()
    (repository / "yolov8-test").symlink_to(model_repo / "yolov8-test")
    settings = Settings(model_repository=repository, workers=1, api_keys=("k1",))
    with TestClient(create_app(settings)) as client:
        yield client


def test_api_keys_in_a_header_or_the_query_string(keyed: TestClient) -> None:
    path = "/v1/models/yolov8-test/stream"
    assert refusal(keyed, path) == (4401, "/problems/unauthorized")
    assert refusal(keyed, f"{path}?api_key=wrong") == (4401, "/problems/unauthorized")
    for url, headers in [
        (f"{path}?api_key=k1", {}),
        (path, {"authorization": "Bearer k1"}),
        (path, {"x-api-key": "k1"}),
    ]:
        with keyed.websocket_connect(url, headers=headers) as ws:
            assert read_stream_message(ws.receive_text()).type == "ready"
            ws.send_bytes(PHOTO)
            assert read_stream_message(ws.receive_text()).type == "result"
    video = keyed.post("/v1/models/yolov8-test/video", files={"file": ("a.mp4", b"x")})
    assert video.status_code == 401  # the file route needs a key too
    metrics = keyed.get("/metrics").text
    assert 'fovea_stream_connections_total{outcome="unauthorized"} 2.0' in metrics
    assert 'fovea_stream_connections_total{outcome="accepted"} 3.0' in metrics
    assert 'fovea_stream_frames_total{model="yolov8-test",outcome="answered"} 3.0' in metrics
    assert "fovea_streams_open 0.0" in metrics


def test_a_draining_server_refuses_new_streams(api: TestClient) -> None:
    state = api.app.state.serving  # type: ignore[attr-defined]
    state.draining = True
    try:
        refused = refusal(api, "/v1/models/yolov8-test/stream")
    finally:
        state.draining = False
    assert refused == (4503, "/problems/shutting-down")
