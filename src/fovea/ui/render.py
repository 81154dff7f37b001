"""Pictures for the UI, drawn client-side with Pillow from the API's JSON so that a slider move
redraws without a request. Every function returns a new image.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from fovea.vision.draw import palette

Json = dict[str, Any]
Colour = tuple[int, int, int]


def open_image(data: bytes) -> Image.Image | None:
    """Decoded RGB image, EXIF-rotated as the server does (boxes are in that frame); None if
    Pillow cannot read it (the server may still have answered about it)."""
    try:
        image = Image.open(io.BytesIO(data))
        return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def class_colour(class_id: int) -> Colour:
    """The colour the server's /render gives this class (its palette, shifted past black)."""
    r, g, b = (int(v) for v in palette(class_id + 2)[class_id + 1])
    return r, g, b


def fit(image: Image.Image, max_side: int | None) -> Image.Image:
    """A copy no longer than max_side on its longer side (None: full size)."""
    if max_side is None or max(image.size) <= max_side:
        return image.copy()
    scale = max_side / max(image.size)
    size_wh = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size_wh, Image.Resampling.LANCZOS)


def draw_detections(
    image: Image.Image, detections: Sequence[Json], scale: float = 1.0
) -> Image.Image:
    """Boxes with 'label score' tags and keypoints on a copy; `scale` maps the API's pixel
    coordinates onto this image when it is a resized copy of the original."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(12, min(out.size) // 30))
    width = max(2, min(out.size) // 250)
    for d in detections:
        colour = class_colour(int(d["class_id"]))
        x1, y1, x2, y2 = (v * scale for v in d["box"])
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{d['label']} {d['score']:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
        lift = min(bottom - top + 4, y1)  # above the box, unless the box touches the top
        draw.rectangle((left, top - lift, right + 4, bottom - lift + 4), fill=colour)
        draw.text((x1 + 2, y1 - lift + 2), text, fill=(0, 0, 0), font=font)
        for x, y in d.get("keypoints") or []:
            r = width + 1
            draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill=colour)
    return out


def decode_mask(mask: Json) -> Image.Image:
    """The API's base64 palette PNG: pixel value = class id, palette = class colours."""
    image = Image.open(io.BytesIO(base64.b64decode(mask["png"])))
    image.load()
    return image


def mask_colours(mask_png: Image.Image, count: int) -> list[Colour]:
    """The first `count` palette colours of a palette PNG."""
    flat = mask_png.getpalette() or []
    colours = [tuple(flat[i : i + 3]) for i in range(0, min(len(flat), 3 * count), 3)]
    return [(int(c[0]), int(c[1]), int(c[2])) for c in colours]


def overlay_mask(image: Image.Image, mask_png: Image.Image, opacity: float) -> Image.Image:
    """Each non-background class's colour blended over the image; class 0 stays clear, as in
    the server's /render."""
    base = image.convert("RGB")
    classes = mask_png if mask_png.size == base.size else mask_png.resize(base.size)
    class_ids = np.asarray(classes)  # a palette image reads as its indices
    alpha = np.where(class_ids > 0, round(255 * opacity), 0).astype(np.uint8)
    return Image.composite(classes.convert("RGB"), base, Image.fromarray(alpha))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
