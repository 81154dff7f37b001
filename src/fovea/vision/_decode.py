"""Images into the pipeline: encoded bytes (limits, EXIF orientation, odd modes, fast JPEG draft)
or an already decoded frame (an RGB HxWx3 uint8 array or a Pillow image, from video or a camera).

Formats: JPEG, PNG, WebP, BMP, TIFF, GIF (first frame). Grayscale, palette, CMYK, 16-bit and alpha
images come out as 8-bit RGB; alpha is composited over white.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from fovea.errors import ImageDecodeError, PayloadTooLarge, TooManyPixels

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")  # JPEG covers MPO (phone photos)
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Limits:
    """What one image may weigh: encoded bytes and decoded pixels."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image plus the size, after EXIF orientation, that results must map back to.

    With draft decoding `image.size` may be a power-of-two fraction of `size_wh`.
    """

    image: Image.Image
    size_wh: tuple[int, int]


def decode_image(
    data: bytes, limits: Limits, *, draft_wh: tuple[int, int] | None = None
) -> DecodedImage:
    """Decode `data`; with `draft_wh`, JPEGs decode at the smallest DCT scale still >= that size."""
    if not data:
        raise ImageDecodeError("the image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"image is {len(data)} bytes, the limit is {limits.max_bytes}")
    image = _open(data, limits)
    orientation = _orientation(image)
    width, height = image.size
    if orientation in _ROTATED:
        width, height = height, width
    if draft_wh is not None and image.format == "JPEG":
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: far cheaper than a full decode.
        want_w, want_h = draft_wh if orientation not in _ROTATED else draft_wh[::-1]
        image.draft("RGB", (want_w, want_h))
    try:
        image.load()
        if orientation not in (None, 1):
            # Apply EXIF orientation before anything else so boxes match what the user sees.
            image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"the {image.format} image is corrupt or truncated: {exc}") from exc
    return DecodedImage(rgb, (width, height))


ImageLike = bytes | npt.NDArray[np.uint8] | Image.Image


def load_image(
    image: ImageLike, limits: Limits, *, draft_wh: tuple[int, int] | None = None
) -> DecodedImage:
    """Encoded bytes are decoded (with `draft_wh`, see decode_image); frames enter as they are."""
    if isinstance(image, bytes):
        return decode_image(image, limits, draft_wh=draft_wh)
    return decode_frame(image, limits)


def decode_frame(frame: npt.NDArray[np.uint8] | Image.Image, limits: Limits) -> DecodedImage:
    """An already decoded frame: no copy for a C-contiguous RGB array, a check of its shape."""
    if isinstance(frame, Image.Image):
        width, height = frame.size
        _check_pixels(width, height, limits)
        return DecodedImage(_to_rgb(frame), (width, height))
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ImageDecodeError(
            f"a frame must be an RGB (H, W, 3) uint8 array, got {array.shape} {array.dtype}"
        )
    height, width = array.shape[:2]
    _check_pixels(width, height, limits)
    return DecodedImage(Image.fromarray(np.ascontiguousarray(array)), (width, height))


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width < 1 or height < 1:
        raise ImageDecodeError(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise TooManyPixels(
            f"the image is {width}x{height} = {width * height} pixels, "
            f"the limit is {limits.max_pixels}"
        )


def _open(data: bytes, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below applies; Pillow's global bomb warning must not leak out.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(f"the image has too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError("not a supported image (JPEG, PNG, WebP, BMP, TIFF or GIF)") from exc
    _check_pixels(*image.size, limits)
    return image


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block must not fail an otherwise good image
        return None
    return int(value) if isinstance(value, int) else None


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _high_depth_to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image)
    if image.mode == "F":
        pixels8 = np.clip(pixels, 0.0, 255.0).astype(np.uint8)
    else:
        # 16-bit samples: keep the top 8 bits, as every 16-to-8 bit viewer does.
        pixels8 = (np.clip(pixels.astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
    return Image.fromarray(pixels8).convert("RGB")
