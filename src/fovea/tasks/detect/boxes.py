"""End-to-end export with NMS inside: output (N, 6) per image, x1, y1, x2, y2 in input pixels,
score, class.
"""

from __future__ import annotations

import numpy as np

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    rows = np.asarray(outputs["output"], np.float32).reshape(-1, 6)
    rows = rows[rows[:, 4] >= context.score_threshold]
    class_id = np.rint(rows[:, 5]).astype(np.int64) - context.class_offset
    return Detections.build(rows[:, :4], rows[:, 4], class_id)
