"""Pixels in and out: decode bytes or frames, prepare model inputs, draw results (annotators)."""

from fovea.vision._decode import (
    DecodedImage,
    ImageLike,
    Limits,
    decode_frame,
    decode_image,
    load_image,
)
from fovea.vision._prepare import InputFormat, neutral_rgb, place, prepare

__all__ = [
    "DecodedImage",
    "ImageLike",
    "InputFormat",
    "Limits",
    "decode_frame",
    "decode_image",
    "load_image",
    "neutral_rgb",
    "place",
    "prepare",
]
