"""POST /v1/models/{model}/video: NDJSON lines (header, frames in order, summary), the annotated
MP4, tracking, every input form, and what happens with videos that are broken or too big."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.wire import FrameLine, VideoError, VideoHeader, VideoSummary, read_video_line
from tests.video.clips import CODECS, FPS, FRAMES, Clips

# tests.helpers.PLANTED_CXCYWH on a 320x240 frame: letterboxed x2 into 640x640, 80 px of padding
# above and below; box 0 (dog) is x 200..400, y 200..400 in the input, box 2 (person) 450..550,
# 470..530. Back in frame pixels: (x / 2, (y - 80) / 2).
DOG = [100.0, 60.0, 200.0, 160.0]
PERSON = [225.0, 195.0, 275.0, 225.0]
Lines = list[Any]


def post(api: TestClient, model: str, clip: Path, **query: Any) -> Any:
    files = {"file": (clip.name, clip.read_bytes(), "video/mp4")}
    return api.post(f"/v1/models/{model}/video", files=files, params=query)


def lines_of(response: Any) -> Lines:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [read_video_line(line) for line in response.text.splitlines()]


def frames_of(lines: Lines) -> list[FrameLine]:
    return [line for line in lines if isinstance(line, FrameLine)]


def test_every_frame_in_order_with_its_time_and_exact_boxes(api: TestClient, clips: Clips) -> None:
    lines = lines_of(post(api, "yolov8-test", clips.mp4))
    header, *middle, summary = lines
    assert isinstance(header, VideoHeader)
    assert (header.model, header.task, header.width, header.height) == (
        "yolov8-test",
        "detect",
        320,
        240,
    )
    assert (header.fps, header.frame_count, header.codec) == (30.0, FRAMES, "h264")
    assert header.duration_s == pytest.approx(1.5)
    frames = frames_of(middle)
    assert [f.frame for f in frames] == list(range(FRAMES))
    assert [f.time_ms for f in frames] == pytest.approx(
        [i * 1000 / FPS for i in range(FRAMES)], abs=0.01
    )
    for frame in frames:
        assert frame.detections is not None
        found = {d.label: d.box for d in frame.detections}
        assert found == {"dog": DOG, "person": PERSON}
        assert frame.timing.infer > 0
    assert isinstance(summary, VideoSummary)
    assert summary.frames == FRAMES
    assert summary.detections == {"dog": FRAMES, "person": FRAMES}
    assert summary.max_in_frame == {"dog": 1, "person": 1}
    assert summary.objects is None
    assert summary.frames_per_s > 0


def test_coco_sees_the_astronaut_then_the_cat(api: TestClient, clips: Clips) -> None:
    lines = lines_of(post(api, "coco", clips.mp4, fps=10, score_threshold=0.3))
    frames = frames_of(lines)
    assert [f.frame for f in frames] == list(range(0, FRAMES, 3))
    assert [f.time_ms for f in frames] == pytest.approx([i * 100 for i in range(15)], abs=0.01)
    labels = [{d.label for d in f.detections or []} for f in frames]
    assert all("person" in found for found in labels[:4])  # the astronaut, as the pan starts
    assert all("cat" in found for found in labels[-2:])  # Chelsea, where it ends
    person = max(
        (d for d in frames[0].detections or [] if d.label == "person"), key=lambda d: d.score
    )
    assert person.score > 0.6
    # The astronaut fills the left of the first view (512x512 photo, its height in 240 px).
    assert person.box[0] < 40
    assert person.box[2] > 120
    summary = lines[-1]
    assert isinstance(summary, VideoSummary)
    assert summary.detections["person"] >= 2
    assert summary.detections["cat"] >= 2


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_every_codec_with_a_stride(api: TestClient, clips: Clips, codec: str) -> None:
    lines = lines_of(post(api, "yolov8-test", clips.codec(codec), stride=5))
    assert [f.frame for f in frames_of(lines)] == list(range(0, FRAMES, 5))
    assert lines[0].codec == {"h264-mp4": "h264", "vp9-webm": "vp9"}.get(codec, codec.split("-")[0])


def test_start_end_and_max_frames(api: TestClient, clips: Clips) -> None:
    lines = lines_of(post(api, "yolov8-test", clips.mp4, start=0.5, end=1.0, max_frames=4))
    assert [f.frame for f in frames_of(lines)] == [15, 16, 17, 18]
    assert (lines[0].start_s, lines[0].end_s, lines[0].max_frames) == (0.5, 1.0, 4)


def test_tracking_gives_ids_that_hold_and_counts_objects(api: TestClient, clips: Clips) -> None:
    lines = lines_of(post(api, "yolov8-test", clips.mp4, track="true", max_frames=10))
    assert lines[0].tracking is True
    frames = frames_of(lines)
    assert all(d.tracker_id is None for d in frames[0].detections or [])  # not confirmed yet
    ids = [{d.label: d.tracker_id for d in f.detections or []} for f in frames[1:]]
    assert all(i == ids[0] for i in ids)
    assert None not in ids[0].values()
    assert ids[0]["dog"] != ids[0]["person"]
    assert lines[-1].objects == {"dog": 1, "person": 1}


def test_tracking_real_objects(api: TestClient, clips: Clips) -> None:
    lines = lines_of(post(api, "coco", clips.mp4, track="true", end=0.5))
    tracked = {
        d.tracker_id
        for f in frames_of(lines)
        for d in f.detections or []
        if d.label == "person" and d.tracker_id is not None
    }
    assert len(tracked) >= 1
    assert lines[-1].objects.get("person", 0) >= 1


def test_classifiers_and_segmenters_answer_per_frame(api: TestClient, clips: Clips) -> None:
    classes = lines_of(post(api, "colour-test", clips.mp4, stride=15, track="true"))
    assert classes[0].tracking is False  # a classifier has nothing to track
    assert [len(f.classes or []) for f in frames_of(classes)] == [3, 3, 3]
    assert sum((classes[-1].top_class or {}).values()) == 3
    batched = lines_of(post(api, "colour-batched", clips.mp4, stride=5))  # frames stacked
    assert [f.frame for f in frames_of(batched)] == list(range(0, FRAMES, 5))
    masks = lines_of(post(api, "red-test", clips.one_frame))
    [frame] = frames_of(masks)
    assert frame.mask is not None
    assert (frame.mask.width, frame.mask.height) == (320, 240)


def test_the_annotated_mp4_plays_as_h264(api: TestClient, clips: Clips, tmp_path: Path) -> None:
    response = post(api, "yolov8-test", clips.mp4, format="mp4", fps=10, track="true")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    path = tmp_path / "annotated.mp4"
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert float(stream.average_rate or 0) == 10.0
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 15
    # The dog's box is drawn in its class colour (tests: class 1 -> (60, 180, 75)).
    edge = frames[5][60:160, 99:102].reshape(-1, 3).astype(int)
    assert np.abs(edge - [60, 180, 75]).sum(axis=1).min() < 60


def test_a_truncated_video_streams_its_frames_then_an_error_line(
    api: TestClient, clips: Clips
) -> None:
    lines = lines_of(post(api, "yolov8-test", clips.truncated))
    frames = frames_of(lines)
    assert 0 < len(frames) < FRAMES
    assert [f.frame for f in frames] == list(range(len(frames)))
    error = lines[-1]
    assert isinstance(error, VideoError)
    assert error.problem.type == "/problems/video-decode"
    assert error.frame == frames[-1].frame
    assert not any(isinstance(line, VideoSummary) for line in lines)
    mp4 = post(api, "yolov8-test", clips.truncated, format="mp4")
    assert mp4.status_code == 422
    assert mp4.json()["type"] == "/problems/video-decode"


@pytest.mark.parametrize(
    ("name", "status", "problem"),
    [
        ("not_video", 422, "video-decode"),
        ("audio", 422, "video-decode"),
    ],
)
def test_what_is_not_a_video_is_a_problem(
    api: TestClient, clips: Clips, name: str, status: int, problem: str
) -> None:
    response = post(api, "yolov8-test", getattr(clips, name))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{problem}"


def test_a_still_image_is_refused_with_415(api: TestClient) -> None:
    photo = Path(__file__).parents[1] / "fixtures" / "photos" / "chelsea.jpg"
    response = post(api, "yolov8-test", photo)
    assert (response.status_code, response.json()["type"]) == (
        415,
        "/problems/unsupported-media-type",
    )


@pytest.mark.parametrize(
    ("query", "status", "problem"),
    [
        ({"fps": 5, "stride": 2}, 422, "invalid-parameter"),
        ({"fps": 0}, 422, "invalid-parameter"),
        ({"start": 2, "end": 1}, 422, "invalid-parameter"),
        ({"max_frames": 101}, 422, "invalid-parameter"),
        ({"format": "gif"}, 422, "invalid-parameter"),
        ({"classes": "unicorn"}, 422, "invalid-parameter"),
        ({"version": "9"}, 404, "model-not-found"),
    ],
)
def test_bad_parameters(
    api: TestClient, clips: Clips, query: dict[str, Any], status: int, problem: str
) -> None:
    response = post(api, "yolov8-test", clips.mp4, **query)
    assert (response.status_code, response.json()["type"]) == (status, f"/problems/{problem}")


def test_bad_requests(api: TestClient) -> None:
    url = "/v1/models/yolov8-test/video"
    cases = [
        (api.post(url, files={"other": ("x", b"1")}), 400, "invalid-request"),
        (api.post(url, content=b"x", headers={"content-type": "text/plain"}), 415, ""),
        (api.post(url, content=b"", headers={"content-type": "video/mp4"}), 400, ""),
        (api.post(url, json={"nothing": 1}), 400, "invalid-request"),
        (api.post("/v1/models/nope/video", files={"file": ("a", b"1")}), 404, ""),
        (api.post("/v1/models/broken-onnx/video", files={"file": ("a", b"1")}), 503, ""),
    ]
    for response, status, problem in cases:
        assert response.status_code == status, response.text
        assert problem in response.json()["type"]


def test_the_raw_body_and_a_url(api: TestClient, clips: Clips) -> None:
    raw = api.post(
        "/v1/models/yolov8-test/video",
        content=clips.one_frame.read_bytes(),
        headers={"content-type": "video/mp4"},
        params={"score_threshold": 0.85},
    )
    [frame] = frames_of(lines_of(raw))
    assert [d.label for d in frame.detections or []] == ["dog"]
    with serve_file(clips.mp4) as url:
        body = {"url": url, "params": {"classes": ["person"]}}
        lines = lines_of(api.post("/v1/models/yolov8-test/video", json=body, params={"stride": 9}))
    frames = frames_of(lines)
    assert [f.frame for f in frames] == [0, 9, 18, 27, 36]
    assert all([d.label for d in f.detections or []] == ["person"] for f in frames)
    refused = api.post("/v1/models/yolov8-test/video", json={"url": "http://10.0.0.1/v.mp4"})
    assert refused.json()["type"] == "/problems/url-refused"


def test_limits_are_settings(model_repo: Path, tmp_path: Path, clips: Clips) -> None:
    repository = tmp_path / "models"
    repository.mkdir()
    (repository / "yolov8-test").symlink_to(model_repo / "yolov8-test")
    data = clips.mp4.read_bytes()
    settings = Settings(
        model_repository=repository,
        workers=1,
        video_max_duration_s=1.0,
        video_max_bytes=len(data) + 10,
        video_max_frames=20,
    )
    with TestClient(create_app(settings)) as small:
        too_long = post(small, "yolov8-test", clips.mp4)
        assert (too_long.status_code, too_long.json()["type"]) == (413, "/problems/video-too-long")
        within = lines_of(post(small, "yolov8-test", clips.mp4, start=0.5))
        assert len(frames_of(within)) == 20  # the frame limit caps what is processed
        too_big = post(small, "yolov8-test", clips.codec("mjpeg-avi"))
        assert (too_big.status_code, too_big.json()["type"]) == (413, "/problems/payload-too-large")
        metrics = small.get("/metrics").text
        assert 'fovea_errors_total{type="video-too-long"} 1.0' in metrics


def test_the_route_is_documented(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/v1/models/{model}/video"]["post"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"fps", "stride", "start", "end", "max_frames", "track", "format"} <= names
    assert "application/x-ndjson" in operation["responses"]["200"]["content"]
    assert json.dumps(operation).count("problem+json") >= 1


@contextmanager
def serve_file(path: Path) -> Iterator[str]:
    data = path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        finally:
            server.shutdown()
            thread.join()
