"""A filled tag above each box: `#track label score`, colour by class."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from fovea.core import Detections
from fovea.vision.annotators._base import fresh
from fovea.vision.annotators._style import class_colour, font


def label_texts(dets: Detections, show_score: bool = True) -> list[str]:
    """Each object's tag: its tracker id if tracked (ids below 0 are not confirmed tracks), its
    class name and score, and a pipeline's second-stage class (a species, say) after a colon."""
    second = dets.data.get("class_names")
    texts = []
    for i, name in enumerate(dets.class_name):
        tracked = dets.tracker_id is not None and dets.tracker_id[i] >= 0
        track = f"#{dets.tracker_id[i]} " if tracked and dets.tracker_id is not None else ""
        score = f" {dets.score[i]:.2f}" if show_score else ""
        detail = f": {second[i, 0]}" if second is not None and second[i, 0] else ""
        texts.append(f"{track}{name}{score}{detail}")
    return texts


@dataclass(frozen=True)
class LabelAnnotator:
    text_scale: float = 1.0
    show_score: bool = True

    def annotate(self, scene: Image.Image, result: Detections) -> Image.Image:
        out = fresh(scene)
        draw = ImageDraw.Draw(out)
        face = font(out, self.text_scale)
        for i, text in enumerate(label_texts(result, self.show_score)):
            x1, y1 = float(result.xyxy[i, 0]), float(result.xyxy[i, 1])
            left, top, right, bottom = draw.textbbox((x1, y1), text, font=face)
            lift = min(bottom - top + 4, y1)  # above the box, unless the box touches the top
            colour = class_colour(int(result.class_id[i]))
            draw.rectangle((left, top - lift, right + 4, bottom - lift + 4), fill=colour)
            draw.text((x1 + 2, y1 - lift + 2), text, fill=(0, 0, 0), font=face)
        return out
