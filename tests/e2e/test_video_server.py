"""Video against a real `fovea serve`: a client that disconnects stops the work at once, interactive
requests keep priority over a video, and SIGTERM ends streams and videos cleanly."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.helpers import image_bytes
from tests.servers import RunningServer, fovea_server
from tests.video.clips import FRAMES, Clips

SLOW = "overload-test"  # ~70 ms a frame, one video frame at a time (max_queue 2)
PHOTO = image_bytes((640, 480))


def images_done(server: RunningServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    found = re.search(rf'fovea_images_total{{model="{SLOW}",outcome="ok"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def queue_depth(server: RunningServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    found = re.search(rf'fovea_queue_depth{{model="{SLOW}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_a_client_that_disconnects_stops_the_video_at_once(
    model_repo: Path, tmp_path: Path, clips: Clips
) -> None:
    with fovea_server(model_repo, tmp_path, FOVEA_WORKERS="2") as server:
        files = {"file": ("pan.mp4", clips.mp4.read_bytes(), "video/mp4")}
        url = f"{server.url}/v1/models/{SLOW}/video"
        with httpx.Client(timeout=30) as client, client.stream("POST", url, files=files) as answer:
            lines = answer.iter_lines()
            assert json.loads(next(lines))["type"] == "header"
            assert json.loads(next(lines))["frame"] == 0
        # The connection is closed: the server stops within a frame's time.
        time.sleep(0.5)
        stopped_at = images_done(server)
        time.sleep(1.5)  # the whole video would take ~3 s more
        assert images_done(server) == stopped_at
        assert stopped_at < FRAMES / 3
        assert queue_depth(server) == 0.0


def test_interactive_requests_keep_priority_over_a_video(
    model_repo: Path, tmp_path: Path, clips: Clips
) -> None:
    with fovea_server(model_repo, tmp_path, FOVEA_WORKERS="2") as server:
        lines: list[str] = []

        def run_video() -> None:
            files = {"file": ("pan.mp4", clips.mp4.read_bytes(), "video/mp4")}
            answer = httpx.post(f"{server.url}/v1/models/{SLOW}/video", files=files, timeout=60)
            lines.extend(answer.text.splitlines())

        video = threading.Thread(target=run_video)
        video.start()
        time.sleep(0.5)
        latencies = []
        for _ in range(5):  # the video holds its half of the queue; these are never refused
            started = time.perf_counter()
            answer = httpx.post(
                f"{server.url}/v1/models/{SLOW}/predict",
                files={"files": ("a.jpg", PHOTO)},
                timeout=30,
            )
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        video.join(timeout=60)
        assert json.loads(lines[-1])["type"] == "summary"
        assert json.loads(lines[-1])["frames"] == FRAMES
        # Admitted at once (the video holds at most half the queue) and ahead of the video's
        # waiting frames: a few frames' time at most, on a loaded machine too.
        assert sorted(latencies)[2] < 1.5


def test_sigterm_answers_the_frames_in_flight_then_closes_the_stream(
    model_repo: Path, tmp_path: Path
) -> None:
    with fovea_server(model_repo, tmp_path) as server:
        ws_url = server.url.replace("http", "ws") + f"/v1/models/{SLOW}/stream?max_in_flight=2"
        with connect(ws_url) as ws:
            assert json.loads(ws.recv())["type"] == "ready"
            ws.send(PHOTO)
            ws.send(PHOTO)
            deadline = time.monotonic() + 5
            while queue_depth(server) < 1 and time.monotonic() < deadline:
                time.sleep(0.005)  # until the server has taken the frames in
            server.process.send_signal(signal.SIGTERM)
            answers = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert [(a["type"], a["seq"]) for a in answers] == [("result", 0), ("result", 1)]
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "server shutting down")
        assert server.process.wait(timeout=15) == 0


def test_sigterm_ends_a_video_with_an_error_line_after_the_frames_in_flight(
    model_repo: Path, tmp_path: Path, clips: Clips
) -> None:
    with fovea_server(model_repo, tmp_path) as server:
        files = {"file": ("pan.mp4", clips.mp4.read_bytes(), "video/mp4")}
        url = f"{server.url}/v1/models/{SLOW}/video"
        with httpx.Client(timeout=30) as client, client.stream("POST", url, files=files) as answer:
            lines = answer.iter_lines()
            next(lines)  # header
            next(lines)  # frame 0
            server.process.send_signal(signal.SIGTERM)
            rest = [json.loads(line) for line in lines]
        assert rest[-1]["type"] == "error"
        assert rest[-1]["problem"]["type"] == "/problems/shutting-down"
        frames = [line["frame"] for line in rest[:-1]]
        assert frames == list(range(1, len(frames) + 1))
        assert len(frames) < FRAMES - 1
        assert server.process.wait(timeout=15) == 0
