"""Data shaping for the Jobs page: counts per category, the gallery's pick, an entry's boxes as
Detections in pixels, the progress line. Plain functions, unit-tested without Streamlit."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fovea.core import Detections
from fovea.formats import BatchResults, ImageEntry
from fovea.wire import JobInfo

ALL, EMPTY, FAILED = "all images", "empty", "failed"
FORMAT_FILES = {"megadetector": "json", "coco": "zip", "yolo": "zip", "voc": "zip", "csv": "csv"}


def category_counts(results: BatchResults, threshold: float) -> list[dict[str, Any]]:
    """Rows: each category with the images that show it (and its detections), then the empty
    and the failed images."""
    images: Counter[str] = Counter()
    detections: Counter[str] = Counter()
    empty = failed = 0
    for entry in results.images:
        kept = entry.kept(threshold)
        failed += entry.failure is not None
        empty += entry.failure is None and not kept
        detections.update(d.category for d in kept)
        images.update({d.category for d in kept})
    rows = [
        {"category": name, "images": images[key], "detections": detections[key]}
        for key, name in ((k, results.detection_categories[k]) for k in results.category_ids())
    ]
    return [*rows, {"category": EMPTY, "images": empty, "detections": 0},
            {"category": FAILED, "images": failed, "detections": 0}]  # fmt: skip


def gallery_choices(results: BatchResults) -> list[str]:
    return [ALL, *(results.detection_categories[k] for k in results.category_ids()), EMPTY, FAILED]


def pick(results: BatchResults, choice: str, threshold: float, limit: int) -> list[ImageEntry]:
    """The first `limit` images (by file) that show `choice` at `threshold`."""
    names = results.detection_categories

    def shows(entry: ImageEntry) -> bool:
        kept = entry.kept(threshold)
        if choice == FAILED:
            return entry.failure is not None
        if choice == EMPTY:
            return entry.failure is None and not kept
        return choice == ALL or any(names.get(d.category) == choice for d in kept)

    return [e for e in results.sorted_images() if shows(e)][:limit]


def detections(
    entry: ImageEntry, results: BatchResults, size_wh: tuple[int, int], threshold: float
) -> Detections:
    """The entry's boxes at `threshold` in pixels of an image of `size_wh`, named by category."""
    order = results.category_ids()
    width, height = size_wh
    kept = entry.kept(threshold)
    xyxy = [
        (x * width, y * height, (x + w) * width, (y + h) * height)
        for x, y, w, h in (d.bbox_xywh for d in kept)
    ]
    ids = [order.index(d.category) if d.category in order else -1 for d in kept]
    labels = [results.detection_categories[k] for k in order]
    return Detections.build(xyxy or [], [d.conf for d in kept], ids, labels)


def progress(info: JobInfo) -> tuple[float, str]:
    """The bar's fraction and its words."""
    fraction = info.done / info.total if info.total else 1.0
    words = f"{info.state}: {info.done} of {info.total} images, {info.failed} failed"
    if info.images_per_s:
        words += f", {info.images_per_s:.1f} img/s"
    if info.eta_s is not None and info.state == "running":
        words += f", about {info.eta_s:.0f} s left"
    if info.error:
        words += f" ({info.error})"
    return fraction, words


def job_label(info: JobInfo) -> str:
    where = (
        info.source.get("folder") or info.source.get("upload") or f"{info.source.get('urls')} URLs"
    )
    return f"{info.id}: {info.model} on {where} ({info.state})"
