"""A dot on each keypoint (face landmarks, say), in its object's class colour."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from fovea.core import Detections
from fovea.vision.annotators._base import fresh
from fovea.vision.annotators._style import class_colour, line_width


@dataclass(frozen=True)
class KeypointAnnotator:
    radius: int | None = None  # None: scaled to the image

    def annotate(self, scene: Image.Image, result: Detections) -> Image.Image:
        if result.keypoints is None:
            return fresh(scene)
        out = fresh(scene)
        draw = ImageDraw.Draw(out)
        r = self.radius or line_width(out) + 1
        for points, class_id in zip(result.keypoints, result.class_id.tolist(), strict=True):
            for x, y in points.tolist():
                draw.ellipse((x - r, y - r, x + r, y + r), fill=class_colour(class_id))
        return out
