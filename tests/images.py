"""Hostile and odd images, built in memory."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.helpers import encode, image_bytes


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height zeros: a few kB on disk, gigabytes decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def exif_rotated_jpeg(size_wh: tuple[int, int], orientation: int) -> bytes:
    """Left half red, right half blue, stored unrotated with an EXIF orientation tag."""
    w, h = size_wh
    image = Image.new("RGB", size_wh, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, w // 2, h))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif, quality=95)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return buffer.getvalue()


def sixteen_bit_png(value: int = 0x8040) -> bytes:
    return encode(Image.new("I;16", (20, 10), value), "PNG")


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG", quality=95)  # red ink


def truncated_jpeg() -> bytes:
    data = image_bytes((320, 240), (10, 200, 30))
    return data[: len(data) // 2]
