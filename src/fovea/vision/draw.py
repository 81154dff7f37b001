"""Annotated images. Each function takes an image and a result and returns a new image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from fovea.results import Classes, Detections, Mask, labels_of

# Distinct, readable colours; class i takes _BASE[i % len], class 0 of a mask is transparent.
_BASE = np.array(
    [
        (230, 25, 75),
        (60, 180, 75),
        (255, 225, 25),
        (0, 130, 200),
        (245, 130, 48),
        (145, 30, 180),
        (70, 240, 240),
        (240, 50, 230),
        (210, 245, 60),
        (250, 190, 212),
        (0, 128, 128),
        (220, 190, 255),
        (170, 110, 40),
        (255, 250, 200),
        (128, 0, 0),
        (170, 255, 195),
        (128, 128, 0),
        (255, 215, 180),
        (0, 0, 128),
        (128, 128, 128),
    ],
    np.uint8,
)


def palette(count: int) -> npt.NDArray[np.uint8]:
    """(count, 3) colours; index 0 is black (the background of masks)."""
    colours = np.zeros((max(count, 1), 3), np.uint8)
    colours[1:] = _BASE[np.arange(max(count, 1) - 1) % len(_BASE)]
    return colours


def _font(image: Image.Image) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(12, min(image.size) // 40))


def draw_boxes(image: Image.Image, dets: Detections, labels: Sequence[str]) -> Image.Image:
    """Boxes with 'label score' tags, colour by class."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    font = _font(out)
    width = max(2, min(out.size) // 250)
    colours = _BASE[dets.class_id % len(_BASE)]
    for i, name in enumerate(labels_of(dets.class_id, labels)):
        colour = tuple(int(c) for c in colours[i])
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{name} {dets.score[i]:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
        lift = min(bottom - top + 4, y1)  # above the box, unless the box touches the top
        draw.rectangle((left, top - lift, right + 4, bottom - lift + 4), fill=colour)
        draw.text((x1 + 2, y1 - lift + 2), text, fill=(0, 0, 0), font=font)
        if dets.keypoints is not None:
            r = width + 1
            for x, y in dets.keypoints[i]:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return out


def overlay_mask(image: Image.Image, mask: Mask, opacity: float = 0.5) -> Image.Image:
    """Blend each non-background class's colour over the image."""
    base = np.asarray(image.convert("RGB"), np.float32)
    colours = palette(mask.num_classes).astype(np.float32)[mask.class_map_hw]
    alpha = np.where(mask.class_map_hw[..., None] > 0, np.float32(opacity), np.float32(0.0))
    blended = base * (1 - alpha) + colours * alpha
    return Image.fromarray(blended.astype(np.uint8))


def draw_caption(image: Image.Image, classes: Classes, labels: Sequence[str]) -> Image.Image:
    """Top-k 'label score' lines in a box at the top left."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    font = _font(out)
    names = labels_of(classes.class_id, labels)
    text = "\n".join(f"{n} {s:.2f}" for n, s in zip(names, classes.score, strict=True))
    if text:
        box = draw.multiline_textbbox((4, 4), text, font=font)
        draw.rectangle((0, 0, box[2] + 6, box[3] + 6), fill=(0, 0, 0))
        draw.multiline_text((4, 4), text, fill=(255, 255, 255), font=font)
    return out
