"""Top-k `label score` lines in a box at the top left (classifiers)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from fovea.core import Classes
from fovea.vision.annotators._base import fresh
from fovea.vision.annotators._style import font


@dataclass(frozen=True)
class CaptionAnnotator:
    text_scale: float = 1.0

    def annotate(self, scene: Image.Image, result: Classes) -> Image.Image:
        out = fresh(scene)
        names = result.class_name
        text = "\n".join(f"{n} {s:.2f}" for n, s in zip(names, result.score.tolist(), strict=True))
        if text:
            draw = ImageDraw.Draw(out)
            face = font(out, self.text_scale)
            box = draw.multiline_textbbox((4, 4), text, font=face)
            draw.rectangle((0, 0, box[2] + 6, box[3] + 6), fill=(0, 0, 0))
            draw.multiline_text((4, 4), text, fill=(255, 255, 255), font=face)
        return out
