"""Where one image of a request comes from: encoded bytes, base64 text, a URL, or a decoded frame.

Base64 is decoded in a worker thread with the image, not while the request is read: a bad item
becomes that item's error, and a 10 MB payload never holds up the event loop.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.errors import InvalidBase64, PayloadTooLarge
from fovea.vision import ImageLike

_DATA_URI = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Encoded:
    data: bytes


@dataclass(frozen=True)
class Base64:
    text: str


@dataclass(frozen=True)
class Url:
    url: str


@dataclass(frozen=True, eq=False)
class Frame:
    """An RGB (H, W, 3) uint8 array or a Pillow image, already decoded (video, camera)."""

    pixels: npt.NDArray[np.uint8] | Image.Image


Source = Encoded | Base64 | Url | Frame
Local = Encoded | Base64 | Frame  # what a source is once any URL has been fetched


@dataclass(frozen=True)
class ImageInput:
    """One image of a request, with the id its result is reported under."""

    id: str
    source: Source


def image_of(source: Local, max_bytes: int) -> ImageLike:
    """The bytes or pixels to decode (base64 is decoded here)."""
    if isinstance(source, Encoded):
        return source.data
    if isinstance(source, Frame):
        return source.pixels
    return decode_base64(source.text, max_bytes)


def decode_base64(text: str, max_bytes: int) -> bytes:
    """Standard or URL-safe base64, with or without a data: URI prefix and line breaks."""
    payload = _DATA_URI.sub("", text.strip(), count=1)
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"the base64 image decodes to more than {max_bytes} bytes")
    alphabet = b"-_" if ("-" in payload or "_" in payload) else None
    try:
        return base64.b64decode(payload, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64(f"the image field is not valid base64: {exc}") from exc
