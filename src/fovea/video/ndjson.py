"""The NDJSON answer of a video, line by line (`fovea.wire` schemas): a header, one line per frame
in order, then a summary, or an error line last when the video could not be finished."""

from __future__ import annotations

import time
from collections import Counter

from fovea.core import Classes, Detections
from fovea.errors import FoveaError
from fovea.models import Servable
from fovea.video.frames import VideoInfo
from fovea.video.options import Sampling
from fovea.video.process import FrameResult
from fovea.video.tracking import Tracker
from fovea.wire import FrameLine, Problem, VideoError, VideoHeader, VideoSummary, output_of

MEDIA_TYPE = "application/x-ndjson"


def header(model: Servable, info: VideoInfo, sampling: Sampling, tracking: bool) -> bytes:
    line = VideoHeader(
        model=model.name,
        version=model.version,
        task=model.spec.task,
        width=info.width,
        height=info.height,
        fps=round(info.fps, 3),
        frame_count=info.frame_count,
        duration_s=None if info.duration_s is None else round(info.duration_s, 3),
        codec=info.codec,
        container=info.container,
        sample_fps=sampling.fps,
        stride=sampling.stride,
        start_s=sampling.start_s,
        end_s=sampling.end_s,
        max_frames=sampling.max_frames or 0,
        tracking=tracking,
    )
    return _line(line)


def frame_line(result: FrameResult) -> FrameLine:
    prediction = result.prediction
    output = output_of(
        str(result.index), prediction.result, prediction.size_wh, prediction.timing_ms
    )
    fields = output.model_dump(exclude={"id"}, exclude_none=True)
    return FrameLine(frame=result.index, time_ms=round(result.time_s * 1000, 3), **fields)


def frame(result: FrameResult) -> bytes:
    return _line(frame_line(result))


def error(problem: FoveaError, last_frame: int | None) -> bytes:
    body = Problem(
        type=f"/problems/{problem.type}",
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
    )
    return _line(VideoError(frame=last_frame, problem=body))


class Tally:
    """Counts over the frames for the summary line."""

    def __init__(self) -> None:
        self.frames = 0
        self.last_frame: int | None = None
        self.detections: Counter[str] = Counter()
        self.max_in_frame: Counter[str] = Counter()
        self.top_class: Counter[str] = Counter()
        self.started = time.perf_counter()

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        self.last_frame = result.index
        found = result.prediction.result
        if isinstance(found, Detections):
            in_frame = Counter(found.class_name)
            self.detections.update(in_frame)
            for label, count in in_frame.items():
                self.max_in_frame[label] = max(self.max_in_frame[label], count)
        elif isinstance(found, Classes) and len(found):
            self.top_class[found.class_name[0]] += 1

    def summary(self, tracker: Tracker | None, labels: tuple[str, ...]) -> bytes:
        elapsed_s = time.perf_counter() - self.started
        line = VideoSummary(
            frames=self.frames,
            detections=dict(sorted(self.detections.items())),
            max_in_frame=dict(sorted(self.max_in_frame.items())),
            objects=None if tracker is None else tracker.objects_per_class(labels),
            top_class=dict(sorted(self.top_class.items())) or None,
            elapsed_ms=round(elapsed_s * 1000, 1),
            frames_per_s=round(self.frames / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        )
        return _line(line)


def _line(model: VideoHeader | FrameLine | VideoSummary | VideoError) -> bytes:
    return model.model_dump_json(exclude_none=True).encode() + b"\n"
