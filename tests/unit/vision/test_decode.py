from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from fovea.errors import ImageDecodeError, PayloadTooLarge, TooManyPixels
from fovea.vision import Limits, decode_frame, decode_image, load_image
from tests.helpers import encode, image_bytes
from tests.images import (
    animated_gif,
    cmyk_jpeg,
    exif_rotated_jpeg,
    png_bomb,
    sixteen_bit_png,
    truncated_jpeg,
)

LIMITS = Limits()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_every_format_decodes_to_rgb(fmt: str) -> None:
    decoded = decode_image(image_bytes((48, 32), (200, 30, 30), fmt=fmt), LIMITS)
    assert decoded.image.mode == "RGB"
    assert decoded.size_wh == (48, 32)
    r, g, b = np.asarray(decoded.image)[16, 24].tolist()
    assert r > 150
    assert g < 80
    assert b < 80


@pytest.mark.parametrize(
    ("orientation", "size_wh", "top_left_rgb"),
    [
        (1, (200, 100), (255, 0, 0)),
        (3, (200, 100), (0, 0, 255)),  # rotated 180: blue half now on the left
        (6, (100, 200), (255, 0, 0)),  # rotated 90 clockwise: red half on top
        (8, (100, 200), (0, 0, 255)),  # rotated 90 anticlockwise: blue half on top
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, size_wh: tuple[int, int], top_left_rgb: tuple[int, int, int]
) -> None:
    decoded = decode_image(exif_rotated_jpeg((200, 100), orientation), LIMITS)
    assert decoded.size_wh == size_wh
    assert decoded.image.size == size_wh
    pixel = np.array(decoded.image.getpixel((5, 5)))
    assert np.abs(pixel - top_left_rgb).max() < 40


def test_exif_rotation_with_draft_keeps_the_rotated_full_size() -> None:
    decoded = decode_image(exif_rotated_jpeg((1600, 800), 6), LIMITS, draft_wh=(200, 200))
    assert decoded.size_wh == (800, 1600)
    assert decoded.image.size == (200, 400)  # decoded at 1/4 scale, then rotated


def test_draft_decodes_a_large_jpeg_at_reduced_scale() -> None:
    decoded = decode_image(image_bytes((2000, 1500)), LIMITS, draft_wh=(416, 416))
    assert decoded.size_wh == (2000, 1500)
    # 1/4 scale (500x375) would be shorter than 416, so libjpeg decodes at 1/2.
    assert decoded.image.size == (1000, 750)


def test_grayscale_palette_and_alpha_become_rgb() -> None:
    grey = decode_image(encode(Image.new("L", (10, 10), 77)), LIMITS).image
    assert grey.getpixel((0, 0)) == (77, 77, 77)
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([10, 20, 30] * 256)
    assert decode_image(encode(palette), LIMITS).image.getpixel((0, 0)) == (10, 20, 30)
    transparent = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert decode_image(encode(transparent), LIMITS).image.getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("LA", (10, 10), (0, 128))
    assert decode_image(encode(half), LIMITS).image.getpixel((0, 0)) == (127, 127, 127)


def test_sixteen_bit_png_keeps_the_top_eight_bits() -> None:
    decoded = decode_image(sixteen_bit_png(0x8040), LIMITS)
    assert decoded.image.getpixel((3, 3)) == (0x80, 0x80, 0x80)


def test_cmyk_jpeg_becomes_rgb() -> None:
    r, g, b = np.asarray(decode_image(cmyk_jpeg(), LIMITS).image)[10, 10].tolist()
    assert r > 200
    assert g < 60
    assert b < 60


def test_animated_gif_gives_its_first_frame() -> None:
    decoded = decode_image(animated_gif(), LIMITS)
    assert decoded.size_wh == (40, 30)
    assert decoded.image.getpixel((5, 5)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ImageDecodeError),
        (os.urandom(2048), ImageDecodeError),
        (b"GIF89a" + b"\x00" * 10, ImageDecodeError),
        (truncated_jpeg(), ImageDecodeError),
        (png_bomb(20000, 20000), TooManyPixels),
    ],
    ids=["empty", "random", "bad-gif-header", "truncated-jpeg", "png-bomb"],
)
def test_bad_bytes_raise_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data, LIMITS)


def test_pixel_limit_is_checked_before_decoding() -> None:
    with pytest.raises(TooManyPixels, match="20000x10 = 200000 pixels"):
        decode_image(png_bomb(20000, 10), Limits(max_pixels=100_000))
    assert decode_image(png_bomb(20000, 10), LIMITS).size_wh == (20000, 10)


def test_byte_limit() -> None:
    data = image_bytes((64, 64), fmt="PNG")
    with pytest.raises(PayloadTooLarge):
        decode_image(data, Limits(max_bytes=len(data) - 1))
    assert decode_image(data, Limits(max_bytes=len(data))).size_wh == (64, 64)


def test_one_by_one_image() -> None:
    assert decode_image(image_bytes((1, 1), fmt="PNG"), LIMITS).size_wh == (1, 1)


def test_frames_enter_without_encoding() -> None:
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[:, :20] = (255, 0, 0)
    decoded = decode_frame(frame, Limits())
    assert decoded.size_wh == (40, 30)
    assert decoded.image.getpixel((5, 5)) == (255, 0, 0)
    from_pil = load_image(Image.fromarray(frame).convert("L"), Limits())
    assert from_pil.image.mode == "RGB"


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (np.zeros((30, 40), np.uint8), ImageDecodeError),
        (np.zeros((30, 40, 4), np.uint8), ImageDecodeError),
        (np.zeros((30, 40, 3), np.float32), ImageDecodeError),
        (np.zeros((0, 40, 3), np.uint8), ImageDecodeError),
        (np.zeros((3000, 4000, 3), np.uint8), TooManyPixels),
    ],
)
def test_bad_frames_are_refused(frame: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_frame(frame, Limits(max_pixels=1_000_000))
