"""Image -> model input tensor, and the Geometry that maps model coordinates back to the image.

A point x in the original image lands at x * scale + offset in the model input, so the inverse is
(x - offset) / scale. Letterbox pads (offset > 0), center-crop crops (offset < 0), stretch has
offset 0 and a scale per axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.spec import InputSpec
from fovea.vision.io import DecodedImage

_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


@dataclass(frozen=True)
class Geometry:
    """How an original image of `image_wh` was placed into a model input of `input_wh`."""

    image_wh: tuple[int, int]
    input_wh: tuple[int, int]
    scale_xy: tuple[float, float]
    offset_xy: tuple[float, float]

    @classmethod
    def fit(cls, image_wh: tuple[int, int], input_wh: tuple[int, int], resize: str) -> Geometry:
        (w, h), (in_w, in_h) = image_wh, input_wh
        if resize == "stretch":
            return cls(image_wh, input_wh, (in_w / w, in_h / h), (0.0, 0.0))
        s = min(in_w / w, in_h / h) if resize == "letterbox" else max(in_w / w, in_h / h)
        new_w, new_h = max(1, round(w * s)), max(1, round(h * s))
        # Centred: the padding (or the crop) is split evenly, the odd pixel going right/bottom.
        off_x, off_y = (in_w - new_w) // 2, (in_h - new_h) // 2
        return cls(image_wh, input_wh, (new_w / w, new_h / h), (float(off_x), float(off_y)))

    @property
    def resized_wh(self) -> tuple[int, int]:
        """Size of the whole image once scaled into model space."""
        return (
            round(self.image_wh[0] * self.scale_xy[0]),
            round(self.image_wh[1] * self.scale_xy[1]),
        )

    def to_image_xyxy(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Boxes (N, 4) in model-input pixels -> original-image pixels, clipped to the image."""
        sx, sy = self.scale_xy
        ox, oy = self.offset_xy
        out = (xyxy - np.array([ox, oy, ox, oy], np.float32)) / np.array(
            [sx, sy, sx, sy], np.float32
        )
        w, h = self.image_wh
        np.clip(out, 0.0, np.array([w, h, w, h], np.float32), out=out)
        return out.astype(np.float32, copy=False)

    def to_image_points(self, points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Points (..., 2) in model-input pixels -> original-image pixels (not clipped)."""
        offset = np.array(self.offset_xy, np.float32)
        scale = np.array(self.scale_xy, np.float32)
        return ((points - offset) / scale).astype(np.float32, copy=False)

    def to_image_map(
        self, map_hw: npt.NDArray[np.float32], resample: Image.Resampling
    ) -> npt.NDArray[np.float32]:
        """A float map over the model input (any resolution) -> one over the original image."""
        map_h, map_w = map_hw.shape
        fx, fy = map_w / self.input_wh[0], map_h / self.input_wh[1]
        (sx, sy), (ox, oy) = self.scale_xy, self.offset_xy
        w, h = self.image_wh
        # The image's footprint in map pixels; a crop may reach outside the map, so pad first.
        left, top = ox * fx, oy * fy
        right, bottom = (ox + w * sx) * fx, (oy + h * sy) * fy
        pad = int(np.ceil(max(0.0, -left, -top, right - map_w, bottom - map_h)))
        if pad:
            map_hw = np.pad(map_hw, pad)
        box = (left + pad, top + pad, right + pad, bottom + pad)
        source = Image.fromarray(np.ascontiguousarray(map_hw, np.float32))
        return np.asarray(source.resize((w, h), resample, box=box), np.float32)


def prepare(decoded: DecodedImage, spec: InputSpec) -> tuple[npt.NDArray[np.generic], Geometry]:
    """Resize, colour-convert and normalise one image; the tensor has no batch axis."""
    geometry = Geometry.fit(decoded.size_wh, spec.size_wh, spec.resize)
    pixels = _place(decoded.image, geometry, spec.pad_value)
    return _normalise(pixels, spec), geometry


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


def _normalise(pixels: npt.NDArray[np.uint8], spec: InputSpec) -> npt.NDArray[np.generic]:
    if spec.color == "BGR":
        pixels = pixels[..., ::-1]
    if spec.dtype == "uint8":
        tensor: npt.NDArray[np.generic] = np.ascontiguousarray(pixels)
    else:
        # (x * scale - mean) / std folded into one multiply-add per pixel.
        std = np.asarray(spec.std, np.float32)
        gain = np.float32(spec.scale) / std
        bias = -np.asarray(spec.mean, np.float32) / std
        tensor = (pixels.astype(np.float32) * gain + bias).astype(_DTYPES[spec.dtype], copy=False)
    if spec.layout == "NCHW":
        tensor = np.ascontiguousarray(tensor.transpose(2, 0, 1))
    return tensor
