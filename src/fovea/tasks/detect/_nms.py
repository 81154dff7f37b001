"""Class-aware non-maximum suppression in NumPy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Greedy NMS is quadratic in the worst case; no real image has more objects than this.
MAX_CANDIDATES = 5000


def box_iou(
    xyxy: npt.NDArray[np.float32], others: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """IoU of one box (4,) against boxes (M, 4) -> (M,)."""
    x1 = np.maximum(xyxy[0], others[:, 0])
    y1 = np.maximum(xyxy[1], others[:, 1])
    x2 = np.minimum(xyxy[2], others[:, 2])
    y2 = np.minimum(xyxy[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (xyxy[2] - xyxy[0]) * (xyxy[3] - xyxy[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def nms(
    xyxy: npt.NDArray[np.float32],
    score: npt.NDArray[np.float32],
    class_id: npt.NDArray[np.int64],
    iou_threshold: float,
    max_keep: int,
) -> npt.NDArray[np.intp]:
    """Indices of the boxes kept, best score first; boxes of different classes never suppress."""
    order = np.argsort(-score, kind="stable")[:MAX_CANDIDATES]
    if len(order) == 0:
        return order
    # Shift each class to its own region of the plane so one IoU pass is class-aware.
    span = float(np.abs(xyxy).max()) * 2 + 1
    shifted = xyxy + (class_id.astype(np.float32) * span)[:, None]
    keep: list[int] = []
    while len(order) and len(keep) < max_keep:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(shifted[best], shifted[rest]) <= iou_threshold]
    return np.asarray(keep, np.intp)
