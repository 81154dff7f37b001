"""How an image was placed into a model input, and the one place results map back to its pixels.

A point x of the original image lands at x * scale + offset in the model input, so the inverse
is (x - offset) / scale. Letterbox pads (offset > 0), center-crop crops (offset < 0), stretch has
offset 0 and a scale per axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core._results import Classes, Detections, Heatmap, Mask

Mappable = Detections | Classes | Mask | Heatmap


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

    @overload
    def to_image(self, result: Detections) -> Detections: ...
    @overload
    def to_image(self, result: Classes) -> Classes: ...
    @overload
    def to_image(self, result: Mask) -> Mask: ...
    @overload
    def to_image(self, result: Heatmap) -> Heatmap: ...

    def to_image(self, result: Mappable) -> Mappable:
        """A result in model-input coordinates -> the same result in original-image pixels."""
        mapped = result  # Classes have no coordinates
        if isinstance(result, Detections):
            keypoints = result.keypoints
            mapped = result.replace(
                xyxy=self.to_image_xyxy(result.xyxy),
                keypoints=None if keypoints is None else self.to_image_points(keypoints),
            )
        elif isinstance(result, Mask) and result.probability_hw is not None:
            smooth = self.to_image_map(result.probability_hw, Image.Resampling.BILINEAR)
            mapped = Mask.from_probability(smooth, result.threshold, result.labels)
        elif isinstance(result, Mask):
            class_map = result.class_map_hw.astype(np.float32)
            nearest = self.to_image_map(class_map, Image.Resampling.NEAREST)
            mapped = Mask(nearest.astype(np.uint8), result.labels)
        elif isinstance(result, Heatmap):
            values = self.to_image_map(result.values_hw, Image.Resampling.BILINEAR)
            mapped = Heatmap(values, result.class_id, result.label, result.score)
        return mapped

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
