"""Batch results, format-neutral: one entry per image (or video) with its detections in
MegaDetector's terms (string category ids, conf, normalised top-left x, y, w, h), or its failure.

Every exporter reads this; `megadetector.load`/`dump` are its JSON form, so any saved results
file converts to any format. Detections may carry second-stage classifications and, for videos,
a frame number; entries may carry a video's frame rate and processed frames.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

XYWH = tuple[float, float, float, float]


@dataclass(frozen=True)
class BatchDetection:
    """One object: `category` is a key of `detection_categories`; `bbox_xywh` is normalised
    0..1 from the top-left; `classifications` are (classification category id, conf) pairs,
    best first. A negative conf marks a detection found to be a repeat (a rock, a branch)."""

    category: str
    conf: float
    bbox_xywh: XYWH
    classifications: tuple[tuple[str, float], ...] = ()
    frame_number: int | None = None


@dataclass(frozen=True)
class ImageEntry:
    """One file's outcome: `detections` (maybe empty) or, when it failed, `failure` and no
    detections. `width`/`height` are pixels after EXIF orientation, when known."""

    file: str
    detections: tuple[BatchDetection, ...] | None
    failure: str | None = None
    width: int | None = None
    height: int | None = None
    datetime: str | None = None
    frame_rate: float | None = None
    frames_processed: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if (self.failure is None) == (self.detections is None):
            raise ValueError(f"{self.file}: give detections, or a failure, not both or neither")

    @property
    def size_wh(self) -> tuple[int, int] | None:
        if self.width is None or self.height is None:
            return None
        return self.width, self.height

    def kept(self, threshold: float) -> tuple[BatchDetection, ...]:
        """Detections at or above `threshold`, best first (none for a failure)."""
        kept = [d for d in self.detections or () if d.conf >= threshold]
        return tuple(sorted(kept, key=lambda d: -d.conf))

    def with_size(self, size_wh: tuple[int, int] | None) -> ImageEntry:
        if size_wh is None:
            return self
        return replace(self, width=size_wh[0], height=size_wh[1])


@dataclass(frozen=True)
class BatchResults:
    """A whole batch: entries in any order (writers sort them by file), category names by id,
    and `info` as MegaDetector's header (format version, detector, thresholds...)."""

    images: Sequence[ImageEntry]
    detection_categories: Mapping[str, str]
    info: Mapping[str, Any] = field(default_factory=dict)
    classification_categories: Mapping[str, str] = field(default_factory=dict)

    def sorted_images(self) -> list[ImageEntry]:
        return sorted(self.images, key=lambda entry: entry.file)

    def category_ids(self) -> list[str]:
        """Detection category ids in numeric order."""
        return sorted(self.detection_categories, key=_numeric)

    def replace_images(self, images: Sequence[ImageEntry]) -> BatchResults:
        return replace(self, images=list(images))

    def without_sizes(self) -> BatchResults:
        """Image sizes dropped: MegaDetector writes them only with --include_image_size."""
        return self.replace_images([replace(e, width=None, height=None) for e in self.images])


def _numeric(category: str) -> tuple[int, str]:
    return (int(category), "") if category.isdigit() else (1 << 62, category)


def pixels_xywh(det: BatchDetection, size_wh: tuple[int, int]) -> XYWH:
    """The box in pixels, x, y, w, h from the top-left (COCO's bbox), 2 digits."""
    width, height = size_wh
    x, y, w, h = det.bbox_xywh
    return round(x * width, 2), round(y * height, 2), round(w * width, 2), round(h * height, 2)


def safe_relative(file: str, suffix: str) -> str:
    """A relative path for a file derived from an entry's `file` (a path or a URL): forward
    slashes, no `..`, no scheme, the extension replaced by `suffix`."""
    path = re.sub(r"^[a-zA-Z][\w+.-]*://", "", file.replace("\\", "/"))
    parts = [re.sub(r"[^\w.-]", "_", p) for p in path.split("/") if p not in ("", ".", "..")]
    stem = "/".join(parts) or "image"
    head, dot, ext = stem.rpartition(".")
    return (head if dot and "/" not in ext else stem) + suffix
