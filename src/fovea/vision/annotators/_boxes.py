"""Box outlines, one colour per class."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from fovea.core import Detections
from fovea.vision.annotators._base import fresh
from fovea.vision.annotators._style import class_colour, line_width


@dataclass(frozen=True)
class BoxAnnotator:
    thickness: int | None = None  # None: scaled to the image

    def annotate(self, scene: Image.Image, result: Detections) -> Image.Image:
        out = fresh(scene)
        draw = ImageDraw.Draw(out)
        width = self.thickness or line_width(out)
        for xyxy, class_id in zip(result.xyxy.tolist(), result.class_id.tolist(), strict=True):
            draw.rectangle(tuple(xyxy), outline=class_colour(class_id), width=width)
        return out
