"""D-RISE (Petsiuk et al., CVPR 2021, arXiv:2006.03204) for one detected box: RISE's random
masks, each scored by how well the detections on the masked image still find that box: the best
IoU with it times the score, over detections of its class.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fovea.core import Detections
from fovea.tasks.detect._nms import box_iou
from fovea.tasks.explain import rise
from fovea.tasks.explain._base import Explainer


def similarity(dets: Detections, target_xyxy: npt.NDArray[np.float32], class_id: int) -> float:
    """How much of the target box the detections still find: max IoU x score, same class only.
    (The paper also takes the cosine of class-score vectors; Fovea's detections keep only the
    best class, so a class must match.)"""
    same = dets[dets.class_id == class_id]
    if not len(same):
        return 0.0
    return float(np.max(box_iou(target_xyxy, same.xyxy) * same.score))


EXPLAINER = Explainer("detect", rise.sweep)
