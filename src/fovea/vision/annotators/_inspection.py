"""Inspection overlays: expected boxes dashed, found boxes solid, both coloured by status, with
the tag each box carries. Reads Detections whose `data` holds `kind` (expected | found),
`status` (found, misplaced, missing, extra, counted) and `tag` (text, or empty);
`fovea.wire.inspection.overlay_of` builds them from an inspection answer.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

from fovea.core import Detections
from fovea.vision.annotators._base import fresh
from fovea.vision.annotators._style import Colour, font, line_width

STATUS_COLOURS: dict[str, Colour] = {
    "found": (60, 180, 75),
    "misplaced": (245, 130, 48),
    "missing": (230, 25, 75),
    "extra": (240, 50, 230),
    "counted": (128, 128, 128),
}


@dataclass(frozen=True)
class InspectionAnnotator:
    thickness: int | None = None  # None: scaled to the image
    text_scale: float = 1.0

    def annotate(self, scene: Image.Image, result: Detections) -> Image.Image:
        out = fresh(scene)
        draw = ImageDraw.Draw(out)
        width = self.thickness or line_width(out)
        n = len(result)
        kinds = result.data.get("kind", ["found"] * n)
        statuses = result.data.get("status", ["found"] * n)
        tags = result.data.get("tag", [""] * n)
        face = font(out, self.text_scale)
        for xyxy, kind, status in zip(result.xyxy.tolist(), kinds, statuses, strict=True):
            colour = STATUS_COLOURS.get(str(status), STATUS_COLOURS["extra"])
            if kind == "expected":
                dashed_rectangle(draw, xyxy, colour, width, dash=4 * width)
            else:
                draw.rectangle(tuple(xyxy), outline=colour, width=width)
        for xyxy, status, tag in zip(result.xyxy.tolist(), statuses, tags, strict=True):
            if tag:
                colour = STATUS_COLOURS.get(str(status), STATUS_COLOURS["extra"])
                text_width = draw.textlength(str(tag), font=face)
                x1, y1 = min(xyxy[0], max(0.0, out.width - text_width - 4)), xyxy[1]
                left, top, right, bottom = draw.textbbox((x1, y1), str(tag), font=face)
                lift = min(bottom - top + 4, y1)  # above the box, unless it touches the top
                draw.rectangle((left, top - lift, right + 4, bottom - lift + 4), fill=colour)
                draw.text((x1 + 2, y1 - lift + 2), str(tag), fill=(0, 0, 0), font=face)
        return out


def dashed_rectangle(
    draw: ImageDraw.ImageDraw, xyxy: list[float], colour: Colour, width: int, dash: int
) -> None:
    """A rectangle outline of dashes `dash` long with gaps as long (Pillow draws none)."""
    x1, y1, x2, y2 = xyxy
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)]
    for (ax, ay), (bx, by) in itertools.pairwise(corners):
        length = max(abs(bx - ax), abs(by - ay), 1.0)
        for start in range(0, math.ceil(length), 2 * dash):
            t0, t1 = start / length, min(start + dash, length) / length
            line = (
                ax + (bx - ax) * t0,
                ay + (by - ay) * t0,
                ax + (bx - ax) * t1,
                ay + (by - ay) * t1,
            )
            draw.line(line, fill=colour, width=width)
