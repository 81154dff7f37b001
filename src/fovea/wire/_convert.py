"""Fovea's result types to the JSON contract and back, so the server writes and the client reads
the same types. Masks travel as palette PNGs (pixel value = class id)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Classes, Detections, Mask, Result
from fovea.vision.annotators import palette
from fovea.wire._schemas import ClassScore, Detection, MaskOut, Output, Timing


def output_of(
    item_id: str, result: Result, size_wh: tuple[int, int], timing_ms: Mapping[str, float]
) -> Output:
    width, height = size_wh
    output = Output(id=item_id, width=width, height=height, timing=Timing(**timing_ms))
    if isinstance(result, Detections):
        output.detections = detections_of(result, size_wh)
    elif isinstance(result, Classes):
        output.classes = [
            ClassScore(label=name, class_id=int(c), score=round(float(s), 5))
            for name, c, s in zip(result.class_name, result.class_id, result.score, strict=True)
        ]
    else:
        output.mask = mask_of(result)
    return output


def detections_of(dets: Detections, size_wh: tuple[int, int]) -> list[Detection]:
    width, height = size_wh
    out = []
    for i, name in enumerate(dets.class_name):
        x1, y1, x2, y2 = dets.xyxy[i].tolist()
        keypoints = None
        if dets.keypoints is not None:
            keypoints = [[round(x, 2), round(y, 2)] for x, y in dets.keypoints[i].tolist()]
        out.append(
            Detection(
                label=name,
                class_id=int(dets.class_id[i]),
                score=round(float(dets.score[i]), 5),
                box=[round(v, 2) for v in (x1, y1, x2, y2)],
                bbox_norm=[
                    round(v, 5)
                    for v in (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)
                ],
                keypoints=keypoints,
                tracker_id=_track(dets, i),
                classes=_second_stage(dets, i),
            )
        )
    return out


def _second_stage(dets: Detections, i: int) -> list[ClassScore] | None:
    """A pipeline's classes for box i (`data` arrays of its classifier stage), if any."""
    if "class_names" not in dets.data:
        return None
    names, ids, scores = dets.data["class_names"], dets.data["class_ids"], dets.data["class_scores"]
    picked = [
        ClassScore(
            label=str(names[i, k]), class_id=int(ids[i, k]), score=round(float(scores[i, k]), 5)
        )
        for k in range(names.shape[1])
        if names[i, k]
    ]
    return picked or None


def _track(dets: Detections, index: int) -> int | None:
    """A tracked object's id; None when untracked or not confirmed yet (a negative id)."""
    if dets.tracker_id is None or dets.tracker_id[index] < 0:
        return None
    return int(dets.tracker_id[index])


def mask_of(mask: Mask) -> MaskOut:
    image = Image.fromarray(mask.class_map_hw)  # "L"; putpalette makes it "P"
    image.putpalette(palette(mask.num_classes).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    height, width = mask.shape_hw
    names = _names(mask.labels, mask.num_classes)
    return MaskOut(
        png=base64.b64encode(buffer.getvalue()).decode("ascii"),
        labels=names,
        fractions={n: round(float(f), 5) for n, f in zip(names, mask.fractions(), strict=True)},
        width=width,
        height=height,
    )


def result_of(output: Output) -> Result:
    """An API output as Detections, Classes or Mask (what the client and the UI work with)."""
    if output.detections is not None:
        return _detections(output.detections)
    if output.classes is not None:
        ids = [c.class_id for c in output.classes]
        return Classes(
            np.array(ids, np.int64),
            np.array([c.score for c in output.classes], np.float32),
            _label_table(ids, [c.label for c in output.classes]),
        )
    if output.mask is not None:
        png = Image.open(io.BytesIO(base64.b64decode(output.mask.png)))
        return Mask(np.asarray(png, np.uint8), tuple(output.mask.labels))
    raise ValueError(f"output {output.id!r} has no result")


def _detections(items: Sequence[Detection]) -> Detections:
    ids = [d.class_id for d in items]
    keypoints = [d.keypoints for d in items if d.keypoints is not None]
    dets = Detections.build(
        [d.box for d in items] or np.zeros((0, 4)),
        [d.score for d in items],
        ids,
        _label_table(ids, [d.label for d in items]),
        keypoints if items and len(keypoints) == len(items) else None,
    )
    if any(d.tracker_id is not None for d in items):
        ids = [-1 if d.tracker_id is None else d.tracker_id for d in items]
        dets = dets.replace(tracker_id=np.array(ids, np.int64))
    if any(d.classes for d in items):
        dets = dets.replace(data=_second_stage_arrays(items))
    return dets


def _second_stage_arrays(items: Sequence[Detection]) -> dict[str, npt.NDArray[Any]]:
    k = max(len(d.classes or []) for d in items)
    ids = np.full((len(items), k), -1, np.int64)
    scores = np.full((len(items), k), np.nan, np.float32)
    names = np.full((len(items), k), "", object)
    for i, detection in enumerate(items):
        for j, c in enumerate(detection.classes or []):
            ids[i, j], scores[i, j], names[i, j] = c.class_id, c.score, c.label
    return {"class_ids": ids, "class_scores": scores, "class_names": names}


def _label_table(ids: Sequence[int], names: Sequence[str]) -> tuple[str, ...]:
    """A label table in which each id names its class (ids never used read as their number)."""
    table = [str(i) for i in range(max(ids, default=-1) + 1)]
    for class_id, name in zip(ids, names, strict=True):
        if class_id >= 0:
            table[class_id] = name
    return tuple(table)


def _names(labels: Sequence[str], count: int) -> list[str]:
    return [labels[i] if i < len(labels) else str(i) for i in range(count)]
