"""The Video page run by Streamlit's AppTest against a real API, and its pure helpers."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from fovea.client import VideoAnswer
from fovea.ui import launch, timeline
from fovea.wire import FrameLine, Timing, VideoHeader, VideoSummary
from fovea.wire._schemas import Detection, Problem
from fovea.wire._video import VideoError
from tests.video.clips import Clips


@pytest.fixture
def app(synthetic_api: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("FOVEA_API_URL", synthetic_api)
    monkeypatch.delenv("FOVEA_API_KEY", raising=False)
    page = AppTest.from_file(str(launch.APP), default_timeout=60).run()
    page.switch_page("views/video.py").run()
    assert not page.exception
    return page


def test_video_page_shows_the_video_the_chart_the_tracks_and_downloads(
    app: AppTest, clips: Clips
) -> None:
    app.selectbox(key="video_model").set_value("yolov8-test").run()
    app.number_input(key="video_fps").set_value(10.0).run()
    app.file_uploader(key="video_upload").set_value(
        ("pan.mp4", clips.mp4.read_bytes(), "video/mp4")
    )
    app.run()
    assert not app.exception
    assert not app.error
    [video] = app.get("video")
    assert video.proto.type == video.proto.Type.NATIVE
    [caption] = [c.value for c in app.caption if c.value.startswith("pan.mp4")]
    assert caption.startswith("pan.mp4: 15 frames of 45 (30 fps)")
    assert caption.endswith("tracked objects: 1 dog, 1 person")
    assert len(app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")) == 1
    tracks = app.dataframe[0].value.to_dict("records")
    assert [(t["label"], t["frames"]) for t in tracks] == [("dog", 14), ("person", 14)]
    labels = [str(b.proto.label) for b in app.get("download_button")]
    assert labels == ["Download NDJSON", "Download annotated MP4"]
    # Unticking tracking asks again (once) and drops the table.
    app.checkbox(key="video_track").uncheck().run()
    assert len(app.dataframe) == 0


def test_video_page_explains_what_it_needs_and_what_failed(app: AppTest, clips: Clips) -> None:
    app.selectbox(key="video_model").set_value("yolov8-test").run()
    assert [i.value for i in app.info] == ["Upload a clip: MP4, WebM, AVI, MOV or MKV."]
    app.file_uploader(key="video_upload").set_value(("notes.mp4", b"not a video", "video/mp4"))
    app.run()
    assert app.error[0].value.startswith("Video could not be decoded (HTTP 422)")
    truncated = clips.truncated.read_bytes()
    app.file_uploader(key="video_upload").set_value(("cut.mp4", truncated, "video/mp4")).run()
    assert app.warning[-1].value.startswith("The video stopped early: the video breaks off")
    assert app.get("video") == []
    assert [str(b.proto.label) for b in app.get("download_button")] == ["Download NDJSON"]


def frame(index: int, labels: list[tuple[str, int | None, float]]) -> FrameLine:
    detections = [
        Detection(
            label=lbl, class_id=0, score=s, box=[0, 0, 1, 1], bbox_norm=[0, 0, 1, 1]
        ).model_copy(update={"tracker_id": t})
        for lbl, t, s in labels
    ]
    return FrameLine(
        frame=index, time_ms=index * 100, width=2, height=2, detections=detections, timing=Timing()
    )


def answer(**summary: Any) -> VideoAnswer:
    header = VideoHeader(
        model="m", version="1", task="detect", width=2, height=2, fps=10, frame_count=3,
        codec="h264", container="mp4", max_frames=9,
    )  # fmt: skip
    frames = [
        frame(0, [("dog", None, 0.9)]),
        frame(1, [("dog", 4, 0.95), ("cat", 7, 0.5)]),
        frame(2, [("cat", 4, 0.6), ("cat", 7, 0.7)]),
    ]
    done = VideoSummary(frames=3, elapsed_ms=1500, frames_per_s=2, **summary) if summary else None
    return VideoAnswer(header, frames, done, None)


def test_counts_over_time_give_every_class_a_value_at_every_frame() -> None:
    rows = timeline.counts_over_time(answer())
    assert [(r["time_s"], r["label"], r["count"]) for r in rows] == [
        (0.0, "cat", 0),
        (0.0, "dog", 1),
        (0.1, "cat", 1),
        (0.1, "dog", 1),
        (0.2, "cat", 2),
        (0.2, "dog", 0),
    ]


def test_tracked_objects_take_their_most_seen_class() -> None:
    assert timeline.tracked_objects(answer()) == [
        {"track": 4, "label": "dog", "first_s": 0.1, "last_s": 0.2, "frames": 2,
         "best_score": 0.95},
        {"track": 7, "label": "cat", "first_s": 0.1, "last_s": 0.2, "frames": 2,
         "best_score": 0.7},
    ]  # fmt: skip
    assert timeline.tracked_objects(VideoAnswer(answer().header, [], None, None)) == []


def test_headline_and_ndjson() -> None:
    assert timeline.headline(answer()) == "3 frames of 3 (10 fps)"
    tracked = answer(objects={"cat": 1, "dog": 1})
    assert timeline.headline(tracked) == (
        "3 frames of 3 (10 fps) in 1.5 s; tracked objects: 1 cat, 1 dog"
    )
    untracked = answer(max_in_frame={})
    assert timeline.headline(untracked).endswith("most in one frame: nothing")
    text = timeline.ndjson_text(tracked)
    assert VideoAnswer.from_lines(text.splitlines()) == tracked
    problem = Problem(type="/problems/video-decode", title="t", status=422, detail="d")
    broken = VideoAnswer(answer().header, [], None, VideoError(frame=None, problem=problem))
    assert VideoAnswer.from_lines(timeline.ndjson_text(broken).splitlines()) == broken
    with pytest.raises(ValueError, match="no header"):
        VideoAnswer.from_lines(["", text.splitlines()[1]])
