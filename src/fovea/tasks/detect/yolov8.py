"""Ultralytics YOLOv8 / v11 export: output (4 + C, N) per image, rows cx, cy, w, h in input pixels,
then C class scores (already sigmoid). A transposed (N, 4 + C) export is accepted too.
"""

from __future__ import annotations

import numpy as np

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs
from fovea.tasks.detect._common import check_classes, cxcywh_to_xyxy


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    raw = np.asarray(outputs["output"], np.float32)
    rows = raw.T if _is_channels_first(raw.shape, context.source_classes) else raw
    check_classes(rows.shape[1] - 4, context.source_classes, "yolov8")
    class_scores = rows[:, 4:]
    class_id = class_scores.argmax(axis=1)
    score = class_scores[np.arange(len(rows)), class_id]
    keep = score >= context.score_threshold
    return Detections.build(cxcywh_to_xyxy(rows[keep, :4]), score[keep], class_id[keep])


def _is_channels_first(shape: tuple[int, ...], num_classes: int | None) -> bool:
    if num_classes is not None and 4 + num_classes in shape:
        return shape[0] == 4 + num_classes
    # Without labels: (4 + C, N) has far fewer rows than columns in every real export.
    return shape[0] < shape[1]
