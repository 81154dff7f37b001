"""MediaPipe BlazeFace short range: regressors (896, 16) and classificators (896, 1) logits.

Regressors are in input pixels relative to an anchor centre: dx, dy, w, h, then six keypoints
(right eye, left eye, nose tip, mouth, right ear, left ear) as x, y pairs. Anchors follow
MediaPipe's SsdAnchorsCalculator for face_detection_short_range: strides 8, 16, 16, 16 with two
anchors per layer, layers of one stride sharing a grid, centres at (x + 0.5) / grid, fixed size.
MediaPipe blends overlapping boxes (weighted NMS); Fovea keeps the best box (plain NMS).
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import numpy as np
import numpy.typing as npt

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Outputs

ROLES = ("regressors", "classificators")
LAYER_STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2


@cache
def anchors(input_wh: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Anchor centres (A, 2) in input pixels, in MediaPipe's order: stride, row, column, anchor."""
    w, h = input_wh
    centres = []
    for stride, layers in Counter(LAYER_STRIDES).items():  # insertion order: 8, then 16
        rows, cols = -(-h // stride), -(-w // stride)
        y, x = np.mgrid[0:rows, 0:cols]
        grid = np.stack([(x + 0.5) / cols * w, (y + 0.5) / rows * h], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, layers * ANCHORS_PER_LAYER, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def decode(outputs: Outputs, context: DecodeContext) -> Detections:
    raw = np.asarray(outputs["regressors"], np.float32)
    logits = np.asarray(outputs["classificators"], np.float64).reshape(-1)
    centre = anchors(context.input_wh)
    if len(centre) != len(raw):
        raise ValueError(
            f"blazeface: {len(raw)} regressors but {len(centre)} anchors "
            f"for a {context.input_wh} input"
        )
    # MediaPipe clips logits to +-100; float64 keeps exp(100) finite.
    score = (1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))).astype(np.float32)
    keep = np.flatnonzero(score >= context.score_threshold)
    raw, centre = raw[keep], centre[keep]
    box_centre = raw[:, 0:2] + centre
    half = raw[:, 2:4] / 2
    xyxy = np.concatenate([box_centre - half, box_centre + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centre[:, None, :]
    return Detections.build(xyxy, score[keep], np.zeros(len(keep), np.int64), keypoints=keypoints)
