"""Video bytes to RGB frames with PyAV: `open_video` probes the container (4xx problems for what is
not a video, too long or too large), then `VideoReader.read` decodes the frames a `Sampling` picks,
each (H, W, 3) uint8 with its source frame number and its time from the start of the video.

Synchronous, one container per reader, not thread-safe: call it from one worker thread at a time.
A video damaged halfway returns the frames before the damage, then raises VideoDecodeError.
"""

from __future__ import annotations

import io
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from types import TracebackType

import numpy as np
import numpy.typing as npt

from fovea.errors import (
    PayloadTooLarge,
    TooManyPixels,
    UnsupportedMediaType,
    VideoDecodeError,
    VideoTooLong,
    VideoUnavailable,
)
from fovea.video.options import Sampling, VideoLimits

try:
    import av
    import av.container
    import av.error
    import av.video.stream

    HAVE_AV = True
except ImportError:  # pragma: no cover - a base install without the `video` extra
    HAVE_AV = False

# Timestamps within this many target frames count as on time (30 fps sampled at 10 lands on
# 0.09999... s, which is the 10 fps frame at 0.1 s).
_SAMPLING_TOLERANCE = 1e-3
# A file that ends more than this many frame periods before its declared duration is truncated.
_TRUNCATION_SLACK_FRAMES = 1.5


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: `fps` is the average frame rate (0.0 when unknown),
    `frame_count` the header's count or an estimate from the duration (None when unknown)."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration_s: float | None


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded frame: `index` in the source (0-based), `time_s` from the video's start."""

    index: int
    time_s: float
    pixels: npt.NDArray[np.uint8]


def open_video(data: bytes, sampling: Sampling, limits: VideoLimits) -> VideoReader:
    """Open `data` as a video and check it against `limits`; raise a 4xx FoveaError if it is not
    a video PyAV can read, a still image, audio only, or over a limit."""
    if not HAVE_AV:  # pragma: no cover
        raise VideoUnavailable("video needs PyAV: pip install 'fovea-serve[video]'")
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"the video is {len(data)} bytes; the limit is {limits.max_bytes} "
            "(FOVEA_VIDEO_MAX_BYTES)"
        )
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoDecodeError(f"not a video PyAV can read: {exc}") from exc
    try:
        return VideoReader(container, sampling, limits)
    except BaseException:
        container.close()
        raise


class VideoReader:
    def __init__(
        self, container: av.container.InputContainer, sampling: Sampling, limits: VideoLimits
    ) -> None:
        self._container, self.sampling = container, sampling
        self._stream = _video_stream(container)
        self._stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads
        self.info = _info(container, self._stream)
        _check(self.info, sampling, limits)
        self._max_duration_s = limits.max_duration_s
        self._frames = self._sampled()
        self._failure: VideoDecodeError | VideoTooLong | None = None
        self._primed: list[VideoFrame] = []
        self.decoded = 0  # frames decoded so far, sampled or not

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._frames.close()
        self._container.close()

    def prime(self) -> None:
        """Decode the first sampled frame now, so that a video none of whose frames decodes
        fails before any answer is sent; the next `read` returns it."""
        self._primed = self.read(1)

    def read(self, count: int) -> list[VideoFrame]:
        """Up to `count` more sampled frames, in order; [] once the video ends. A failure after
        some frames of this call returns those first and is raised by the next call."""
        if self._primed:
            primed, self._primed = self._primed, []
            return primed
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        frames: list[VideoFrame] = []
        try:
            for frame in self._frames:
                frames.append(frame)
                if len(frames) == count:
                    break
        except (VideoDecodeError, VideoTooLong) as exc:
            if not frames:
                raise
            self._failure = exc
        return frames

    def _sampled(self) -> Generator[VideoFrame, None, None]:
        sampling, fps = self.sampling, self.info.fps
        kept, in_range, last_bucket = 0, 0, -1
        last: tuple[int, float] | None = None
        for index, time_s, frame in self._decoded():
            last = index, time_s
            if time_s < sampling.start_s - _SAMPLING_TOLERANCE / max(fps, 1.0):
                continue
            if sampling.end_s is not None and time_s >= sampling.end_s:
                return
            if time_s - sampling.start_s > self._max_duration_s:
                raise VideoTooLong(
                    f"the video runs past {self._max_duration_s} s from the start asked for "
                    "(FOVEA_VIDEO_MAX_DURATION_S)"
                )
            in_range += 1
            if sampling.stride is not None and (in_range - 1) % sampling.stride:
                continue
            if sampling.fps is not None:
                elapsed = time_s - sampling.start_s
                bucket = math.floor(elapsed * sampling.fps + _SAMPLING_TOLERANCE)
                if bucket <= last_bucket:
                    continue
                last_bucket = bucket
            yield VideoFrame(index, time_s, _rgb(frame, index))
            kept += 1
            if sampling.max_frames is not None and kept >= sampling.max_frames:
                return
        self._check_complete(last)

    def _decoded(self) -> Iterator[tuple[int, float, av.VideoFrame]]:
        """Every frame from `start_s` on (after a seek to the keyframe before it), numbered."""
        stream, fps = self._stream, self.info.fps
        origin = _seconds(stream.start_time, stream.time_base) or 0.0
        index: int | None = None
        if self.sampling.start_s > 0 and stream.time_base:
            target = origin + self.sampling.start_s
            try:
                self._container.seek(int(target / float(stream.time_base)), stream=stream)
            except (av.error.FFmpegError, ValueError) as exc:
                raise VideoDecodeError(f"cannot seek to {self.sampling.start_s} s: {exc}") from exc
        else:
            index = 0  # from the first frame on, frames are counted; after a seek, timed
        try:
            for frame in self._container.decode(stream):
                self.decoded += 1
                if index is None:
                    index = round(((_seconds(frame.pts, frame.time_base) or 0.0) - origin) * fps)
                given = _seconds(frame.pts, frame.time_base)
                time_s = given - origin if given is not None else index / (fps or 1.0)
                yield index, round(time_s, 6), frame
                index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            raise VideoDecodeError(
                f"the video is damaged after {self.decoded} decoded frames: {exc}"
            ) from exc

    def _check_complete(self, last: tuple[int, float] | None) -> None:
        """A file that ends well before the frames or the duration its header declares was cut
        short: the decoder just stops, so this is the only sign of it."""
        info, period = self.info, 1.0 / (self.info.fps or 25.0)
        if last is None:
            if self.sampling.start_s == 0:
                raise VideoDecodeError("the video has no frame that decodes")
            return
        index, time_s = last
        short_count = (
            self.sampling.start_s == 0
            and info.frame_count is not None
            and self._stream.frames > 0
            and index + 1 < info.frame_count - 1
        )
        short_time = (
            info.duration_s is not None
            and time_s + _TRUNCATION_SLACK_FRAMES * period < info.duration_s
        )
        if short_count or short_time:
            declared = f"{info.frame_count} frames" if short_count else f"{info.duration_s:.3f} s"
            raise VideoDecodeError(
                f"the video breaks off after frame {index} ({time_s:.3f} s) of {declared}: "
                "truncated or damaged"
            )


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    name = container.format.name
    if name.endswith("_pipe"):  # FFmpeg reads a JPEG or PNG as a one-frame "video"
        raise UnsupportedMediaType(
            f"a still image ({name.removesuffix('_pipe')}), not a video: send images to predict"
        )
    if not container.streams.video:
        audio = " (it holds only audio)" if container.streams.audio else ""
        raise VideoDecodeError(f"the file has no video stream{audio}")
    return container.streams.video[0]


def _info(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> VideoInfo:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    duration = _seconds(stream.duration, stream.time_base)
    if duration is None and container.duration and len(container.streams) == 1:
        duration = container.duration / 1_000_000  # av.time_base: microseconds
    count: int | None = stream.frames or None  # 0 when the header does not say (WebM)
    if count is None and duration is not None and fps:
        count = round(duration * fps)
    context = stream.codec_context
    if not context.width or not context.height:
        raise VideoDecodeError("the video stream has no picture size")
    return VideoInfo(
        container.format.name, context.name, context.width, context.height, fps, count, duration
    )


def _check(info: VideoInfo, sampling: Sampling, limits: VideoLimits) -> None:
    if info.width * info.height > limits.max_pixels:
        raise TooManyPixels(
            f"frames are {info.width}x{info.height} = {info.width * info.height} pixels; "
            f"the limit is {limits.max_pixels}"
        )
    end = sampling.end_s
    if info.duration_s is not None:
        end = info.duration_s if end is None else min(end, info.duration_s)
    if end is not None and end - sampling.start_s > limits.max_duration_s:
        raise VideoTooLong(
            f"{end - sampling.start_s:.1f} s of video to process; the limit is "
            f"{limits.max_duration_s} s (FOVEA_VIDEO_MAX_DURATION_S): ask for less with start "
            "and end"
        )


def _rgb(frame: av.VideoFrame, index: int) -> npt.NDArray[np.uint8]:
    try:
        pixels = np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoDecodeError(f"frame {index} cannot be converted to RGB: {exc}") from exc
    return pixels


def _seconds(value: int | None, time_base: object) -> float | None:
    if value is None or not time_base:
        return None
    return float(value * time_base)  # type: ignore[operator]
