"""CSV: one row per detection, one row for an image with none (category empty), one row for a
failed image (its `failure`). Boxes normalised x, y, w, h as in MegaDetector's format; the top
classification of a detection, when a second stage gave one."""

from __future__ import annotations

import csv as _csv
import io

from fovea.formats._batch import BatchResults

NAME = "csv"
NEEDS_SIZE = False
DESCRIPTION = "CSV, one row per detection (and per empty or failed image)"
COLUMNS = (
    "file", "width", "height", "datetime", "failure", "category", "label", "conf",
    "bbox_x", "bbox_y", "bbox_w", "bbox_h", "classification", "classification_conf",
)  # fmt: skip


def encode(results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]:
    buffer = io.StringIO()
    writer = _csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    names = results.classification_categories
    for entry in results.sorted_images():
        head = [entry.file, entry.width or "", entry.height or "", entry.datetime or ""]
        dets = entry.kept(threshold)
        if entry.failure is not None or not dets:
            writer.writerow([*head, entry.failure or "", *[""] * 9])
            continue
        for det in dets:
            top = det.classifications[0] if det.classifications else None
            writer.writerow(
                [
                    *head,
                    "",
                    det.category,
                    results.detection_categories.get(det.category, det.category),
                    det.conf,
                    *det.bbox_xywh,
                    "" if top is None else names.get(top[0], top[0]),
                    "" if top is None else top[1],
                ]
            )
    return {"results.csv": buffer.getvalue().encode()}
