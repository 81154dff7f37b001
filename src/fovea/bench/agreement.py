"""How closely one variant of a model (int8, bf16, another runtime) agrees with the reference on
the same images (same labels, each reference box matched with IoU >= 0.9, score deltas), and
how much faster it runs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fovea.core import Classes, Detections, Mask, Result
from fovea.models import ServedModel
from fovea.vision import Limits

MATCH_IOU = 0.9


@dataclass(frozen=True)
class Agreement:
    reference: int  # boxes (or top classes) in the reference answer
    matched: int  # of those, found by the variant: same label, IoU >= 0.9
    extra: int  # the variant's answers the reference does not have
    max_score_delta: float  # over matched answers
    min_iou: float  # over matched boxes (1.0 for classes and masks)

    @property
    def same(self) -> bool:
        return self.matched == self.reference and self.extra == 0


@dataclass(frozen=True)
class Comparison:
    images: int
    total: Agreement  # summed over the images; score delta and IoU are the worst seen
    reference_ms: float  # inference alone, one image, median of the runs
    variant_ms: float

    @property
    def speedup(self) -> float:
        return self.reference_ms / self.variant_ms


def compare(reference: ServedModel, variant: ServedModel, images: Sequence[bytes]) -> Comparison:
    found = [agreement(reference.predict(d).result, variant.predict(d).result) for d in images]
    total = Agreement(
        sum(a.reference for a in found),
        sum(a.matched for a in found),
        sum(a.extra for a in found),
        max((a.max_score_delta for a in found), default=0.0),
        min((a.min_iou for a in found), default=1.0),
    )
    tensor = reference.load(images[0], Limits()).tensor
    return Comparison(len(images), total, _infer_ms(reference, tensor), _infer_ms(variant, tensor))


def _infer_ms(model: ServedModel, tensor: npt.NDArray[np.generic], runs: int = 15) -> float:
    model.infer([tensor])  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.infer([tensor])
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 2)


def agreement(reference: Result, variant: Result) -> Agreement:
    if isinstance(reference, Detections) and isinstance(variant, Detections):
        return _detections(reference, variant)
    if isinstance(reference, Classes) and isinstance(variant, Classes):
        same = len(reference) > 0 and len(variant) > 0
        same = same and int(reference.class_id[0]) == int(variant.class_id[0])
        delta = abs(float(reference.score[0]) - float(variant.score[0])) if same else 1.0
        return Agreement(1, int(same), int(not same), round(delta, 4), 1.0)
    if isinstance(reference, Mask) and isinstance(variant, Mask):
        differ = float((reference.class_map_hw != variant.class_map_hw).mean())
        return Agreement(1, int(differ < 0.01), 0, round(differ, 4), 1.0)
    raise ValueError(f"cannot compare {type(reference).__name__} with {type(variant).__name__}")


def _detections(reference: Detections, variant: Detections) -> Agreement:
    iou = pairwise_iou(reference.xyxy, variant.xyxy)
    iou[reference.class_id[:, None] != variant.class_id[None, :]] = 0.0
    used: set[int] = set()
    ious, deltas = [], []
    for i in np.argsort(-reference.score):  # best reference boxes pick first
        candidates = [j for j in np.argsort(-iou[i]) if j not in used and iou[i, j] >= MATCH_IOU]
        if candidates:
            j = int(candidates[0])
            used.add(j)
            ious.append(float(iou[i, j]))
            deltas.append(abs(float(reference.score[i]) - float(variant.score[j])))
    return Agreement(
        len(reference),
        len(ious),
        len(variant) - len(used),
        round(max(deltas, default=0.0), 4),
        round(min(ious, default=1.0), 4),
    )


def pairwise_iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4), xyxy -> (N, M)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2).astype(np.float64)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)[:, None]
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)[None, :]
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
