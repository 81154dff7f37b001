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
from fovea.vision.annotators._style import Colour, Font, font, line_width

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
        for xyxy, kind, status, tag in zip(
            result.xyxy.tolist(), kinds, statuses, tags, strict=True
        ):
            if tag:
                colour = STATUS_COLOURS.get(str(status), STATUS_COLOURS["extra"])
                _tag(draw, face, xyxy, str(tag), colour, below=kind == "expected")
        return out


def _tag(
    draw: ImageDraw.ImageDraw,
    face: Font,
    xyxy: list[float],
    text: str,
    colour: Colour,
    below: bool,
) -> None:
    """A filled tag above the box (inside its top when the box touches the top), or, for an
    expected box (`below`), inside its bottom edge, so that it does not cover the tag of a part
    found in the same place. Kept inside the image on the right."""
    image_width = draw.im.size[0]
    x = min(xyxy[0], max(0.0, image_width - draw.textlength(text, font=face) - 4))
    left, top, right, bottom = draw.textbbox((x, 0), text, font=face)
    height = bottom - top + 4
    y = xyxy[3] - height if below else xyxy[1] - min(height, xyxy[1])
    draw.rectangle((left, y, right + 4, y + height), fill=colour)
    draw.text((x + 2, y + 2 - top), text, fill=(0, 0, 0), font=face)


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
