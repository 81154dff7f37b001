"""TF Object Detection API style: boxes (N, 4) as ymin, xmin, ymax, xmax normalised to 0..1,
scores (N,), classes (N,) as floats, num_detections (); NMS already inside.
Classes in TF OD API exports count from 1: set `class_offset = 1` in model.toml for them.
"""

from __future__ import annotations

import numpy as np

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs

ROLES = ("boxes", "scores", "classes", "num_detections")


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    count = int(np.asarray(outputs["num_detections"]).reshape(-1)[0])
    yxyx = np.asarray(outputs["boxes"], np.float32).reshape(-1, 4)[:count]
    score = np.asarray(outputs["scores"], np.float32).reshape(-1)[:count]
    raw_class = np.asarray(outputs["classes"]).reshape(-1)[:count]
    in_w, in_h = context.input_wh
    xyxy = yxyx[:, [1, 0, 3, 2]] * np.array([in_w, in_h, in_w, in_h], np.float32)
    class_id = np.rint(raw_class).astype(np.int64) - context.class_offset
    keep = score >= context.score_threshold
    return Detections.build(xyxy[keep], score[keep], class_id[keep])
