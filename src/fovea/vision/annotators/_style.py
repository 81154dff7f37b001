"""Colours and fonts the annotators share, so a class has one colour everywhere it is drawn."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFont

Colour = tuple[int, int, int]
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

# Distinct, readable colours; class i takes _BASE[i % len]; class 0 of a mask is transparent.
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


def class_colour(class_id: int) -> Colour:
    """The colour of a detection class."""
    r, g, b = (int(v) for v in _BASE[class_id % len(_BASE)])
    return r, g, b


def palette(count: int) -> npt.NDArray[np.uint8]:
    """(count, 3) mask colours; index 0 is black (the background), class i > 0 is colour i - 1."""
    colours = np.zeros((max(count, 1), 3), np.uint8)
    colours[1:] = _BASE[np.arange(max(count, 1) - 1) % len(_BASE)]
    return colours


def font(image: Image.Image, scale: float = 1.0) -> Font:
    """The default font at a size that reads on this image: 1/40 of its shorter side, >= 12 px."""
    return ImageFont.load_default(size=max(12, round(min(image.size) / 40 * scale)))


def line_width(image: Image.Image) -> int:
    return max(2, min(image.size) // 250)
