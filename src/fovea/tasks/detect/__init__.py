"""Detection: one module per model family, each `decode(outputs, context) -> Detections` in
model-input pixels. What every family shares runs once, here: class_map remap, the allowed
classes, NMS (unless the graph ran it) and the cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fovea.core import Detections
from fovea.tasks._base import DecodeContext, Decoder, Outputs, Task
from fovea.tasks.detect import blazeface, boxes, nanodet, ssd, yolov5, yolov8
from fovea.tasks.detect._nms import nms


@dataclass(frozen=True)
class Family:
    decode: Callable[[Outputs, DecodeContext], Detections]
    roles: tuple[str, ...] = ("output",)
    has_nms: bool = False  # the graph already ran NMS


FAMILIES: dict[str, Family] = {
    "yolov5": Family(yolov5.decode),
    "yolov8": Family(yolov8.decode),
    "boxes": Family(boxes.decode, has_nms=True),
    "ssd": Family(ssd.decode, ssd.ROLES, has_nms=True),
    "nanodet": Family(nanodet.decode, nanodet.ROLES),
    "blazeface": Family(blazeface.decode, blazeface.ROLES),
}


def select(dets: Detections, context: DecodeContext, *, run_nms: bool = True) -> Detections:
    """Remap classes, keep the allowed ones, suppress overlaps, cap the count and name them."""
    if context.remap is not None:
        known = (dets.class_id >= 0) & (dets.class_id < len(context.remap))
        dets = dets[known]
        dets = dets.replace(class_id=context.remap[dets.class_id])
        dets = dets[dets.class_id >= 0]
    if context.allowed is not None:
        dets = dets[np.isin(dets.class_id, list(context.allowed))]
    if run_nms:
        keep = nms(
            dets.xyxy, dets.score, dets.class_id, context.iou_threshold, context.max_detections
        )
    else:
        keep = np.argsort(-dets.score, kind="stable")[: context.max_detections]
    return dets[keep].replace(labels=context.labels)


def _decoder(family: Family) -> Decoder:
    def decode(outputs: Outputs, context: DecodeContext) -> Detections:
        return select(family.decode(outputs, context), context, run_nms=not family.has_nms)

    return Decoder(decode, family.roles)


TASK = Task("detect", {name: _decoder(family) for name, family in FAMILIES.items()})
