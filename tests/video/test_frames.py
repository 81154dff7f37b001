"""Decoding: every codec, frame numbers and times, sampling, limits, and broken files."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fovea.errors import (
    InvalidParameter,
    PayloadTooLarge,
    TooManyPixels,
    UnsupportedMediaType,
    VideoDecodeError,
    VideoTooLong,
)
from fovea.video.frames import VideoFrame, VideoReader, open_video
from fovea.video.options import Sampling, VideoLimits
from tests.video.clips import CODECS, FPS, FRAMES, PHOTOS, SIZE_WH, Clips, pan_and_zoom

LIMITS = VideoLimits()


def read_all(reader: VideoReader, chunk: int = 4) -> list[VideoFrame]:
    frames: list[VideoFrame] = []
    while batch := reader.read(chunk):
        frames += batch
    return frames


def read_until_error(reader: VideoReader) -> tuple[list[VideoFrame], Exception]:
    """The frames read before the error, and the error."""
    frames: list[VideoFrame] = []
    try:
        while batch := reader.read(4):
            frames += batch
    except Exception as exc:
        return frames, exc
    raise AssertionError(f"no error after {len(frames)} frames")


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_every_codec_gives_every_frame_with_its_number_and_time(clips: Clips, codec: str) -> None:
    with open_video(clips.codec(codec).read_bytes(), Sampling(), LIMITS) as reader:
        info = reader.info
        frames = read_all(reader)
    assert (info.width, info.height, info.fps) == (*SIZE_WH, FPS)
    assert info.frame_count == FRAMES
    assert info.duration_s == pytest.approx(FRAMES / FPS, abs=0.01)
    assert [f.index for f in frames] == list(range(FRAMES))
    # WebM keeps milliseconds; the others keep the exact rate.
    assert [f.time_s for f in frames] == pytest.approx([i / FPS for i in range(FRAMES)], abs=1e-3)
    assert frames[0].pixels.shape == (SIZE_WH[1], SIZE_WH[0], 3)
    assert frames[0].pixels.dtype == np.uint8


def test_frames_are_the_pictures_that_were_encoded(clips: Clips) -> None:
    with open_video(clips.codec("mjpeg-avi").read_bytes(), Sampling(), LIMITS) as reader:
        frames = read_all(reader)
    originals = list(pan_and_zoom())
    for decoded, original in zip(frames, originals, strict=True):
        error = np.abs(decoded.pixels.astype(np.int16) - original.astype(np.int16)).mean()
        assert error < 8  # JPEG-level loss, no shift or colour swap


@pytest.mark.parametrize(
    ("sampling", "indices"),
    [
        (Sampling(fps=10), list(range(0, FRAMES, 3))),
        (Sampling(fps=60), list(range(FRAMES))),  # faster than the video: every frame
        (Sampling(stride=7), list(range(0, FRAMES, 7))),
        (Sampling(start_s=1.0), list(range(30, FRAMES))),
        (Sampling(start_s=0.5, end_s=0.7), list(range(15, 21))),
        (Sampling(start_s=0.5, fps=5), [15, 21, 27, 33, 39]),
        (Sampling(max_frames=5), [0, 1, 2, 3, 4]),
        (Sampling(stride=2, max_frames=3), [0, 2, 4]),
        (Sampling(start_s=5.0), []),
    ],
)
def test_sampling_picks_frames_by_time_or_stride(
    clips: Clips, sampling: Sampling, indices: list[int]
) -> None:
    for codec in ("h264-mp4", "vp9-webm"):  # seeking by timestamps in two containers
        with open_video(clips.codec(codec).read_bytes(), sampling, LIMITS) as reader:
            frames = read_all(reader, chunk=3)
        assert [f.index for f in frames] == indices, codec
        assert [f.time_s for f in frames] == pytest.approx([i / FPS for i in indices], abs=1e-3)


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ({"fps": 5, "stride": 2}, "fps or stride"),
        ({"fps": 0}, "fps must be above 0"),
        ({"stride": 0}, "stride must be at least 1"),
        ({"start_s": -1}, "start must be"),
        ({"start_s": 2, "end_s": 1}, "must be after start"),
        ({"max_frames": 0}, "max_frames must be at least 1"),
    ],
)
def test_bad_sampling_is_an_invalid_parameter(sampling: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        Sampling(**sampling)  # type: ignore[arg-type]


def test_max_frames_is_capped_by_the_limit_and_refused_above_it() -> None:
    limits = VideoLimits(max_frames=10)
    assert Sampling().capped(limits).max_frames == 10
    assert Sampling(max_frames=4).capped(limits).max_frames == 4
    with pytest.raises(InvalidParameter, match="FOVEA_VIDEO_MAX_FRAMES"):
        Sampling(max_frames=11).capped(limits)


def test_a_one_frame_video(clips: Clips) -> None:
    with open_video(clips.one_frame.read_bytes(), Sampling(), LIMITS) as reader:
        frames = read_all(reader)
        assert reader.info.frame_count == 1
    assert [(f.index, f.time_s) for f in frames] == [(0, 0.0)]


def test_a_truncated_video_gives_the_frames_before_the_cut_then_an_error(clips: Clips) -> None:
    with open_video(clips.truncated.read_bytes(), Sampling(), LIMITS) as reader:
        frames, error = read_until_error(reader)
    assert isinstance(error, VideoDecodeError)
    assert re.search(f"breaks off after frame .* of {FRAMES} frames", error.detail)
    assert 0 < len(frames) < FRAMES
    assert [f.index for f in frames] == list(range(len(frames)))


def test_damage_in_the_middle_is_an_error_after_the_frames_before_it(clips: Clips) -> None:
    data = bytearray(clips.codec("mjpeg-avi").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes(20_000)
    with open_video(bytes(data), Sampling(), LIMITS) as reader:
        frames, error = read_until_error(reader)
    assert isinstance(error, VideoDecodeError)
    assert 0 < len(frames) < FRAMES


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("not_video", VideoDecodeError, "not a video PyAV can read"),
        ("audio", VideoDecodeError, "no video stream .it holds only audio"),
    ],
)
def test_what_is_not_a_video_is_refused_when_opened(
    clips: Clips, name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        open_video(getattr(clips, name).read_bytes(), Sampling(), LIMITS)


def test_empty_bytes_and_a_still_image_are_refused() -> None:
    with pytest.raises(VideoDecodeError):
        open_video(b"", Sampling(), LIMITS)
    photo = (PHOTOS / "chelsea.jpg").read_bytes()
    with pytest.raises(UnsupportedMediaType, match="still image"):
        open_video(photo, Sampling(), LIMITS)


def test_limits_on_bytes_pixels_and_duration(clips: Clips) -> None:
    data = clips.mp4.read_bytes()
    with pytest.raises(PayloadTooLarge, match="FOVEA_VIDEO_MAX_BYTES"):
        open_video(data, Sampling(), VideoLimits(max_bytes=len(data) - 1))
    with pytest.raises(TooManyPixels):
        open_video(data, Sampling(), VideoLimits(max_pixels=320 * 240 - 1))
    with pytest.raises(VideoTooLong, match="FOVEA_VIDEO_MAX_DURATION_S"):
        open_video(data, Sampling(), VideoLimits(max_duration_s=1.0))
    # Only the stretch asked for counts: 1.5 s of video, 0.8 s of it processed.
    with open_video(data, Sampling(start_s=0.7), VideoLimits(max_duration_s=1.0)) as reader:
        assert len(read_all(reader)) == FRAMES - 21


def test_a_duration_the_header_hides_is_enforced_while_decoding(clips: Clips) -> None:
    # The WebM header gives the duration; the limit still holds frame by frame when it is
    # passed mid-stream (here, by starting within the limit and reading on past it).
    with open_video(clips.mp4.read_bytes(), Sampling(), VideoLimits(max_duration_s=2)) as reader:
        reader._max_duration_s = 0.5  # as if the header had said nothing
        frames, error = read_until_error(reader)
    assert isinstance(error, VideoTooLong)
    assert [f.index for f in frames] == list(range(16))


def test_prime_decodes_the_first_frame_ahead(clips: Clips) -> None:
    with open_video(clips.mp4.read_bytes(), Sampling(stride=5), LIMITS) as reader:
        reader.prime()
        assert reader.decoded == 1
        assert [f.index for f in reader.read(4)] == [0]
        assert [f.index for f in reader.read(4)] == [5, 10, 15, 20]
