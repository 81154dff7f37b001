"""Image -> model input tensor (resize, pad or crop, colour order, normalise, layout), and the
Geometry that maps the model's answers back to the image.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Geometry
from fovea.vision._decode import DecodedImage

_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


class InputFormat(Protocol):
    """What `prepare` needs of a model's input (the model spec's `InputSpec` is one)."""

    @property
    def size_wh(self) -> tuple[int, int]: ...

    @property
    def resize(self) -> str: ...

    @property
    def layout(self) -> str: ...

    @property
    def color(self) -> str: ...

    @property
    def scale(self) -> float: ...

    @property
    def mean(self) -> tuple[float, float, float]: ...

    @property
    def std(self) -> tuple[float, float, float]: ...

    @property
    def dtype(self) -> str: ...

    @property
    def pad_value(self) -> int: ...


def prepare(decoded: DecodedImage, spec: InputFormat) -> tuple[npt.NDArray[np.generic], Geometry]:
    """Resize, colour-convert and normalise one image; the tensor has no batch axis."""
    pixels, geometry = place(decoded, spec)
    return _normalise(pixels, spec), geometry


def place(decoded: DecodedImage, spec: InputFormat) -> tuple[npt.NDArray[np.uint8], Geometry]:
    """The image resized, padded or cropped into the model input: RGB uint8 (H, W, 3), what the
    model sees before colour order and normalisation. `prepare` of it changes no pixel."""
    geometry = Geometry.fit(decoded.size_wh, spec.size_wh, spec.resize)
    return _place(decoded.image, geometry, spec.pad_value), geometry


def neutral_rgb(spec: InputFormat) -> tuple[int, int, int]:
    """The RGB pixel the model reads as zero after normalisation (mean / scale), a neutral value
    to blank regions with; black for raw uint8 inputs."""
    if spec.dtype == "uint8":
        return 0, 0, 0
    values = [round(min(max(m / spec.scale, 0.0), 255.0)) for m in spec.mean]
    r, g, b = values[::-1] if spec.color == "BGR" else values
    return r, g, b


def _place(image: Image.Image, geometry: Geometry, pad_value: int) -> npt.NDArray[np.uint8]:
    in_w, in_h = geometry.input_wh
    new_w, new_h = geometry.resized_wh
    off_x, off_y = int(geometry.offset_xy[0]), int(geometry.offset_xy[1])
    resized = image.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=None)
    if (new_w, new_h) == (in_w, in_h) and off_x == off_y == 0:
        return np.asarray(resized)
    canvas = np.full((in_h, in_w, 3), pad_value, np.uint8)
    src = np.asarray(resized)
    # Intersect the resized image (at offset) with the canvas: pads for letterbox, crops otherwise.
    x0, y0 = max(off_x, 0), max(off_y, 0)
    x1, y1 = min(off_x + new_w, in_w), min(off_y + new_h, in_h)
    canvas[y0:y1, x0:x1] = src[y0 - off_y : y1 - off_y, x0 - off_x : x1 - off_x]
    return canvas


def _normalise(pixels: npt.NDArray[np.uint8], spec: InputFormat) -> npt.NDArray[np.generic]:
    # Reorder axes and channels while the pixels are still uint8 (a quarter of the bytes), so
    # the float work runs once, in place, over contiguous planes: 9x faster than converting
    # first and transposing the floats (2.7 -> 0.3 ms for a 416x416 input).
    nchw = spec.layout == "NCHW"
    pixels = pixels.transpose(2, 0, 1) if nchw else pixels
    if spec.color == "BGR":
        pixels = pixels[::-1] if nchw else pixels[..., ::-1]
    if spec.dtype == "uint8":
        return np.ascontiguousarray(pixels)
    # (x * scale - mean) / std folded into one multiply-add per value.
    shape = (3, 1, 1) if nchw else (1, 1, 3)
    std = np.asarray(spec.std, np.float32)
    gain = (np.float32(spec.scale) / std).reshape(shape)
    bias = (-np.asarray(spec.mean, np.float32) / std).reshape(shape)
    tensor = np.ascontiguousarray(pixels).astype(np.float32)
    tensor *= gain
    tensor += bias
    return tensor.astype(_DTYPES[spec.dtype], copy=False)
