"""Batch results and the formats they are written in: MegaDetector's JSON (the record), COCO,
YOLO, Pascal VOC and CSV. A new format is one module with NAME, NEEDS_SIZE, DESCRIPTION and
`encode(results, threshold) -> {relative path: bytes}`, plus one line in `_MODULES`.
"""

from __future__ import annotations

import io
import zipfile
from typing import Protocol

from fovea.errors import InvalidParameter
from fovea.formats import coco, csv, megadetector, voc, yolo
from fovea.formats._batch import BatchDetection, BatchResults, ImageEntry, pixels_xywh


class Format(Protocol):
    NAME: str
    NEEDS_SIZE: bool
    DESCRIPTION: str

    def encode(self, results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]: ...


_MODULES: tuple[Format, ...] = (megadetector, coco, yolo, voc, csv)
FORMATS: dict[str, Format] = {module.NAME: module for module in _MODULES}


def export(results: BatchResults, name: str, threshold: float = 0.0) -> dict[str, bytes]:
    """The files of `results` in format `name`, detections below `threshold` left out
    (MegaDetector's own format keeps everything: it is the record)."""
    format_ = FORMATS.get(name)
    if format_ is None:
        raise InvalidParameter(f"unknown format {name!r}; formats: {', '.join(FORMATS)}")
    if format_.NEEDS_SIZE:
        unsized = [e.file for e in results.images if e.failure is None and e.size_wh is None]
        if unsized:
            raise InvalidParameter(
                f"{name} needs each image's width and height, which the results lack for "
                f"{len(unsized)} images (first: {unsized[0]}); give the image folder"
            )
    return format_.encode(results, threshold)


def bundle(files: dict[str, bytes], stem: str) -> tuple[bytes, str, str]:
    """(body, media type, file name): one file as itself, several as a zip."""
    if len(files) == 1:
        name, body = next(iter(files.items()))
        return body, _MEDIA.get(name.rsplit(".", 1)[-1], "application/octet-stream"), name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in sorted(files.items()):
            archive.writestr(name, body)
    return buffer.getvalue(), "application/zip", f"{stem}.zip"


_MEDIA = {"json": "application/json", "csv": "text/csv", "txt": "text/plain", "xml": "text/xml"}

__all__ = [
    "FORMATS",
    "BatchDetection",
    "BatchResults",
    "Format",
    "ImageEntry",
    "bundle",
    "export",
    "pixels_xywh",
]
