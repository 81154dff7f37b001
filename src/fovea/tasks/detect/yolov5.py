"""YOLOv5 export (MegaDetector v5 too): output (N, 5 + C) per image, columns cx, cy, w, h in input
pixels, objectness, then C class scores; a box's score is objectness x its best class score.
"""

from __future__ import annotations

import numpy as np

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs
from fovea.tasks.detect._common import check_classes, cxcywh_to_xyxy


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    rows = np.asarray(outputs["output"], np.float32).reshape(-1, outputs["output"].shape[-1])
    check_classes(rows.shape[1] - 5, context.source_classes, "yolov5")
    rows = rows[rows[:, 4] >= context.score_threshold]  # objectness bounds the score: cheap cut
    scores = rows[:, 5:] * rows[:, 4:5]
    class_id = scores.argmax(axis=1)
    score = scores[np.arange(len(rows)), class_id]
    keep = score >= context.score_threshold
    return Detections.build(cxcywh_to_xyxy(rows[keep, :4]), score[keep], class_id[keep])
