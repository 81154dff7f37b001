"""Pictures for the UI, without drawing code of its own: uploads decoded as the server decodes
them, fitted to the screen, and results mapped onto the fitted copy. Drawing is
`fovea.vision.annotators`, the server's /render styles. Every function returns a new object.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fovea.core import Detections


def open_image(data: bytes) -> Image.Image | None:
    """Decoded RGB image, EXIF-rotated as the server does (boxes are in that frame); None if
    Pillow cannot read it (the server may still have answered about it)."""
    try:
        image = Image.open(io.BytesIO(data))
        return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def fit(image: Image.Image, max_side: int | None) -> Image.Image:
    """A copy no longer than max_side on its longer side (None: full size)."""
    if max_side is None or max(image.size) <= max_side:
        return image.copy()
    scale = max_side / max(image.size)
    size_wh = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size_wh, Image.Resampling.LANCZOS)


def scaled(dets: Detections, scale: float) -> Detections:
    """Detections in original-image pixels -> the same on a copy resized by `scale` (fit's)."""
    factor = np.float32(scale)
    keypoints = None if dets.keypoints is None else dets.keypoints * factor
    return dets.replace(xyxy=dets.xyxy * factor, keypoints=keypoints)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
