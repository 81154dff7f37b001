"""Detection decoders: one module per model family, each `decode(outputs, context) -> Detections`
in model-input pixels; thresholding by class, class_map, NMS and the cap are shared here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fovea.results import Detections
from fovea.tasks.detect import blazeface, boxes, nanodet, ssd, yolov5, yolov8
from fovea.tasks.detect._nms import nms

Outputs = Mapping[str, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class DecodeContext:
    """What a decoder needs besides the tensors."""

    input_wh: tuple[int, int]
    score_threshold: float
    num_classes: int | None = None  # from the labels, when the model has them
    class_offset: int = 0


@dataclass(frozen=True)
class DetectDecoder:
    decode: Callable[[Outputs, DecodeContext], Detections]
    roles: tuple[str, ...] = ("output",)
    has_nms: bool = False  # the graph already ran NMS


DECODERS: dict[str, DetectDecoder] = {
    "yolov5": DetectDecoder(yolov5.decode),
    "yolov8": DetectDecoder(yolov8.decode),
    "boxes": DetectDecoder(boxes.decode, has_nms=True),
    "ssd": DetectDecoder(ssd.decode, ssd.ROLES, has_nms=True),
    "nanodet": DetectDecoder(nanodet.decode, nanodet.ROLES),
    "blazeface": DetectDecoder(blazeface.decode, blazeface.ROLES),
}


@dataclass(frozen=True)
class Selection:
    """Which detections to keep: class_map remap, allowed classes, NMS, cap."""

    iou_threshold: float
    max_detections: int
    remap: npt.NDArray[np.int64] | None = None  # source class -> reported class, -1 drops it
    allowed: frozenset[int] | None = None  # reported classes to keep; None keeps all


def select(dets: Detections, selection: Selection, *, run_nms: bool = True) -> Detections:
    """Remap classes, keep the allowed ones, suppress overlaps and cap the count."""
    if selection.remap is not None:
        known = (dets.class_id >= 0) & (dets.class_id < len(selection.remap))
        dets = dets[known]
        dets = Detections(dets.xyxy, dets.score, selection.remap[dets.class_id], dets.keypoints)
        dets = dets[dets.class_id >= 0]
    if selection.allowed is not None:
        dets = dets[np.isin(dets.class_id, list(selection.allowed))]
    if run_nms:
        return dets[
            nms(
                dets.xyxy,
                dets.score,
                dets.class_id,
                selection.iou_threshold,
                selection.max_detections,
            )
        ]
    return dets[np.argsort(-dets.score, kind="stable")[: selection.max_detections]]
