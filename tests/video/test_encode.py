"""The annotated MP4: H.264 in yuv420p with the index first, so browsers play it as it loads."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fovea.video.encode import Mp4Writer
from fovea.video.frames import open_video
from fovea.video.options import Sampling, VideoLimits
from tests.video.clips import pan_and_zoom


def probe(path: Path) -> tuple[str, str, str, int, int, float, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        context = stream.codec_context
        rate = float(stream.average_rate or 0)
        return (
            context.name,
            str(context.pix_fmt),
            str(context.profile),
            context.width,
            context.height,
            rate,
            frames,
        )


def test_frames_become_a_browser_playable_h264_mp4(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, 10.0, (320, 240)) as mp4:
        for pixels in pan_and_zoom(12):
            mp4.write(Image.fromarray(pixels))
    assert probe(path) == ("h264", "yuv420p", "High", 320, 240, 10.0, 12)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while loading
    with open_video(data, Sampling(), VideoLimits()) as reader:
        first = reader.read(1)[0].pixels
    original = next(pan_and_zoom(12)).astype(np.int16)
    assert np.abs(first.astype(np.int16) - original).mean() < 6


@pytest.mark.parametrize(
    ("size_wh", "written_wh"), [((321, 241), (320, 240)), ((1, 1), (2, 2)), ((64, 48), (64, 48))]
)
def test_odd_sizes_are_cropped_to_even_for_yuv420p(
    tmp_path: Path, size_wh: tuple[int, int], written_wh: tuple[int, int]
) -> None:
    path = tmp_path / "odd.mp4"
    with Mp4Writer(path, 29.97, size_wh) as mp4:
        mp4.write(np.full((size_wh[1], size_wh[0], 3), 128, np.uint8))
    codec, pix_fmt, _, width, height, rate, frames = probe(path)
    assert (codec, pix_fmt, (width, height), frames) == ("h264", "yuv420p", written_wh, 1)
    assert rate == pytest.approx(29.97, abs=0.01)


def test_a_frame_of_another_size_is_resized(tmp_path: Path) -> None:
    path = tmp_path / "resized.mp4"
    with Mp4Writer(path, 0.0, (64, 48)) as mp4:  # 0: the rate is unknown, 25 is used
        mp4.write(np.zeros((96, 128, 3), np.uint8))
    assert probe(path)[3:] == (64, 48, 25.0, 1)
