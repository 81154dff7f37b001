"""RGB frames to an H.264 MP4 that browsers play: yuv420p (x264 picks 4:4:4 from RGB otherwise,
which Chromium and Firefox refuse), even width and height (4:2:0 halves them), and the index (moov)
before the data so playback starts before the download ends. The file goes to a path, not memory:
FFmpeg's faststart pass re-opens the file by name to move the index.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.errors import VideoUnavailable

try:
    import av
    import av.container
    import av.video.stream

    HAVE_AV = True
except ImportError:  # pragma: no cover - a base install without the `video` extra
    HAVE_AV = False

DEFAULT_FPS = 25.0


class Mp4Writer:
    """`with Mp4Writer(path, fps, (w, h)) as mp4: mp4.write(image)`; the file is complete once
    the block ends. Frames are cropped to even sizes (one column or row at most)."""

    def __init__(self, path: Path, fps: float, size_wh: tuple[int, int], crf: int = 23) -> None:
        if not HAVE_AV:  # pragma: no cover
            raise VideoUnavailable("MP4 output needs PyAV: pip install 'fovea-serve[video]'")
        width, height = size_wh
        self.size_wh = (max(2, width - width % 2), max(2, height - height % 2))
        self.frames = 0
        self._out: av.container.OutputContainer = av.open(
            str(path), mode="w", format="mp4", container_options={"movflags": "+faststart"}
        )
        rate = Fraction(fps or DEFAULT_FPS).limit_denominator(1001)  # 29.97 stays 30000/1001
        options = {"crf": str(crf), "preset": "veryfast"}
        self._stream: av.video.stream.VideoStream = self._out.add_stream(
            "libx264", rate=rate, options=options
        )
        self._stream.width, self._stream.height = self.size_wh
        self._stream.pix_fmt = "yuv420p"

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(flush=kind is None)

    def write(self, image: Image.Image | npt.NDArray[np.uint8]) -> None:
        pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
        width, height = self.size_wh
        if pixels.shape[:2] != (height, width):
            pixels = _fit(pixels, width, height)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def close(self, flush: bool = True) -> None:
        if flush:
            for packet in self._stream.encode():  # the frames x264 still holds
                self._out.mux(packet)
        self._out.close()


def _fit(pixels: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """Crop the odd row or column; a frame of another size is resized (a stream changed size)."""
    h, w = pixels.shape[:2]
    if h >= height and w >= width and h - height <= 1 and w - width <= 1:
        return pixels[:height, :width]
    resized = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized)
