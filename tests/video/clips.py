"""Test clips made from the real photos in tests/fixtures/photos: a camera pans and zooms across a
scene of the astronaut (a person) beside Chelsea (a cat), encoded with PyAV in several codecs;
plus a truncated file, an audio-only file, a one-frame video and bytes that are no video."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.video.stream
import numpy as np
import numpy.typing as npt
from PIL import Image

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
FPS = 30
FRAMES = 45  # 1.5 s
SIZE_WH = (320, 240)


@dataclass(frozen=True)
class Codec:
    suffix: str
    container: str
    codec: str
    pix_fmt: str
    options: dict[str, str]


CODECS = {
    "h264-mp4": Codec(".mp4", "mp4", "libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}),
    "vp9-webm": Codec(
        ".webm", "webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8"}
    ),
    "mjpeg-avi": Codec(".avi", "avi", "mjpeg", "yuvj420p", {}),
    "mpeg4-mov": Codec(".mov", "mov", "mpeg4", "yuv420p", {"qscale": "4"}),
}


def scene() -> Image.Image:
    """The astronaut (512x512) beside the cat photo scaled to the same height: 1282x512."""
    astronaut = Image.open(PHOTOS / "astronaut.jpg").convert("RGB")
    cat = Image.open(PHOTOS / "chelsea.jpg").convert("RGB")
    cat = cat.resize((round(cat.width * 512 / cat.height), 512), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (astronaut.width + cat.width, 512))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(cat, (astronaut.width, 0))
    return canvas


def pan_and_zoom(
    count: int = FRAMES, size_wh: tuple[int, int] = SIZE_WH
) -> Iterator[npt.NDArray[np.uint8]]:
    """The camera starts on the astronaut with the whole height in view, zooms in by a fifth and
    pans right until it rests on the cat."""
    picture = scene()
    width, height = size_wh
    for i in range(count):
        f = i / max(count - 1, 1)
        view_h = picture.height * (1.0 - 0.2 * np.sin(np.pi * f))
        view_w = view_h * width / height
        x0 = (picture.width - view_w) * f
        y0 = (picture.height - view_h) / 2
        box = (x0, y0, x0 + view_w, y0 + view_h)
        yield np.asarray(picture.resize(size_wh, Image.Resampling.BILINEAR, box=box))


def encode(
    path: Path,
    codec: Codec,
    frames: Iterator[npt.NDArray[np.uint8]],
    fps: int = FPS,
    faststart: bool = False,
) -> Path:
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=codec.container, container_options=options) as out:
        stream = out.add_stream(codec.codec, rate=fps, options=codec.options)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.pix_fmt = codec.pix_fmt
        for index, pixels in enumerate(frames):
            if index == 0:
                stream.height, stream.width = pixels.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def audio_only(path: Path) -> Path:
    """Half a second of silence in AAC, in an MP4 container (.m4a)."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@dataclass(frozen=True)
class Clips:
    """Every test clip, made once per test session."""

    folder: Path

    def codec(self, name: str) -> Path:
        return self.folder / f"pan-{name}{CODECS[name].suffix}"

    @property
    def mp4(self) -> Path:
        return self.codec("h264-mp4")

    @property
    def truncated(self) -> Path:
        return self.folder / "truncated.mp4"

    @property
    def audio(self) -> Path:
        return self.folder / "audio.m4a"

    @property
    def one_frame(self) -> Path:
        return self.folder / "one-frame.mp4"

    @property
    def not_video(self) -> Path:
        return self.folder / "notes.txt"


def make_clips(folder: Path) -> Clips:
    clips = Clips(folder)
    for name, codec in CODECS.items():
        encode(clips.codec(name), codec, pan_and_zoom())
    # Index first (faststart), then cut after 60% of the bytes: the header promises 45 frames.
    whole = encode(folder / "whole.mp4", CODECS["h264-mp4"], pan_and_zoom(), faststart=True)
    data = whole.read_bytes()
    clips.truncated.write_bytes(data[: len(data) * 6 // 10])
    audio_only(clips.audio)
    encode(clips.one_frame, CODECS["h264-mp4"], pan_and_zoom(1))
    clips.not_video.write_bytes(b"These are meeting notes, not a video.\n" * 50)
    return clips
