"""The Python client's video methods and `fovea video` against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from fovea.cli import app
from fovea.client import APIError, AsyncClient, Client
from fovea.core import Detections
from tests.servers import RunningServer, fovea_server
from tests.video.clips import FRAMES, Clips


@pytest.fixture(scope="module")
def server(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with fovea_server(model_repo, tmp_path_factory.mktemp("video-client")) as running:
        yield running


def test_client_video_and_mp4(server: RunningServer, clips: Clips) -> None:
    with Client(server.url) as client:
        answer = client.video("yolov8-test", clips.mp4, stride=3, track=True)
        assert answer.header.frame_count == FRAMES
        assert [f.frame for f in answer.frames] == list(range(0, FRAMES, 3))
        assert answer.summary is not None
        assert answer.summary.objects == {"dog": 1, "person": 1}
        assert answer.error is None
        dets = answer.frames[1].output().result()
        assert isinstance(dets, Detections)
        assert dets.class_name == ["dog", "person"]
        assert dets.tracker_id is not None
        broken = client.video("yolov8-test", clips.truncated.read_bytes(), score_threshold=0.5)
        assert broken.summary is None
        assert broken.error is not None
        assert broken.error.problem.type == "/problems/video-decode"
        mp4 = client.video_mp4("yolov8-test", clips.one_frame, track=True)
        with pytest.raises(APIError) as refused:
            client.video("yolov8-test", clips.audio)
    assert refused.value.status == 422
    assert mp4[4:8] == b"ftyp"


@pytest.mark.anyio
async def test_async_client_video(server: RunningServer, clips: Clips) -> None:
    async with AsyncClient(server.url) as client:
        answer = await client.video("yolov8-test", clips.mp4, fps=5, max_frames=3)
        mp4 = await client.video_mp4("yolov8-test", clips.one_frame.read_bytes(), fps=5)
        with pytest.raises(APIError):
            await client.video("nope", clips.mp4)
    assert [f.frame for f in answer.frames] == [0, 6, 12]
    assert len(mp4) > 1000


def test_fovea_video_prints_its_table_for_each_mode(
    server: RunningServer, clips: Clips, tmp_path: Path
) -> None:
    out = tmp_path / "annotated.mp4"
    arguments = ["video", str(clips.mp4), "--model", "yolov8-test", "--server", server.url]
    arguments += ["--mode", "sequential,concurrent", "--mode", "stream", "--streams", "1,2"]
    arguments += ["--batch", "4", "--concurrency", "2", "--max-frames", "12", "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| [\d.]+ \| ([\d.]+) \|", result.output, re.M)
    assert [(m, s, f) for m, s, f, _ in rows] == [
        ("sequential", "1", "12"),
        ("sequential", "2", "24"),
        ("concurrent", "1", "12"),
        ("concurrent", "2", "24"),
        ("stream", "1", "12"),
        ("stream", "2", "24"),
    ]
    assert all(float(rate) > 0 for *_, rate in rows)
    assert "| mode | streams | frames | total s | frames/s | p50 ms/frame | p99 ms/frame |" in (
        result.output
    )
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_fovea_video_says_what_is_wrong(server: RunningServer, clips: Clips) -> None:
    runner = CliRunner()
    bad_mode = runner.invoke(app, ["video", str(clips.mp4), "-m", "x", "--mode", "fast"])
    assert bad_mode.exit_code == 2
    assert "unknown mode" in bad_mode.output
    not_video = runner.invoke(app, ["video", str(clips.not_video), "-m", "x"])
    assert not_video.exit_code == 1
    assert "not a video" in not_video.output


def test_fovea_video_starts_its_own_server(model_repo: Path, clips: Clips, tmp_path: Path) -> None:
    repository = tmp_path / "models"  # only models that load: the server waits for readiness
    repository.mkdir()
    (repository / "yolov8-test").symlink_to(model_repo / "yolov8-test")
    arguments = ["video", str(clips.one_frame), "-m", "yolov8-test", "-r", str(repository)]
    result = CliRunner().invoke(app, [*arguments, "--mode", "stream"])
    assert result.exit_code == 0, result.output
    assert "| stream | 1 | 1 |" in result.output
