"""Match a pattern's expected positions to detections and decide OK or NOK. Pure functions.

Per label, expected positions and detections are assigned one to one (Hungarian assignment,
scipy's `linear_sum_assignment`), so one detection never satisfies two positions. The cost
ranks an assignment first by how many pairs lie outside their tolerance, then by the total
offset; the tolerance then judges each pair. Boxes are `cxcywh` fractions of the image, and a
pair's offset is the Euclidean norm of (dx, dy, dw, dh).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from fovea.core import Detections
from fovea.errors import ExtraNotInstalled
from fovea.inspection.patterns import Box, Pattern, Tolerance

Status = Literal["found", "misplaced", "missing"]
Decision = Literal["OK", "NOK"]
Boxes = npt.NDArray[np.float64]
# Inclusive tolerance bounds, robust to float32 boxes: 0.1 given must accept 0.1 measured.
_EPS = 1e-6


@dataclass(frozen=True)
class PositionResult:
    """One expected position: found, misplaced (found out of tolerance) or missing."""

    index: int
    label: str
    expected: Box
    status: Status
    detection: int | None = None  # index into the detections given
    found: Box | None = None
    score: float | None = None
    delta: Box | None = None  # found - expected: dx, dy, dw, dh
    offset: float | None = None
    iou: float | None = None


@dataclass(frozen=True)
class ExtraResult:
    """A detection no position claimed. `counted`: its label has a count range, which judges it
    instead."""

    detection: int
    label: str
    box: Box
    score: float
    counted: bool = False


@dataclass(frozen=True)
class CountResult:
    label: str
    count: int
    min: int
    max: int

    @property
    def ok(self) -> bool:
        return self.min <= self.count <= self.max


@dataclass(frozen=True)
class Inspection:
    """One pattern judged against one image's detections."""

    pattern: str
    positions: tuple[PositionResult, ...]
    extras: tuple[ExtraResult, ...]
    counts: tuple[CountResult, ...]
    allow_extras: bool = False

    @property
    def errors(self) -> int:
        """Missing and misplaced positions, extras (unless allowed), and counts out of range."""
        wrong = sum(p.status != "found" for p in self.positions)
        extras = 0 if self.allow_extras else sum(not e.counted for e in self.extras)
        return wrong + extras + sum(not c.ok for c in self.counts)

    @property
    def decision(self) -> Decision:
        return "OK" if self.errors == 0 else "NOK"

    @property
    def total_offset(self) -> float:
        return float(sum(p.offset for p in self.positions if p.offset is not None))


def inspect(name: str, pattern: Pattern, dets: Detections, size_wh: tuple[int, int]) -> Inspection:
    """`pattern` judged against detections in pixels of an image of `size_wh`."""
    width, height = size_wh
    xyxy = dets.xyxy.astype(np.float64) / np.array([width, height, width, height], np.float64)
    cxcywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    return match(name, pattern, cxcywh, dets.class_name, dets.score.astype(np.float64))


def match(
    name: str,
    pattern: Pattern,
    cxcywh: Boxes,
    labels: Sequence[str],
    scores: npt.NDArray[np.float64],
) -> Inspection:
    """`pattern` judged against detections given as (N, 4) `cxcywh` fractions, labels, scores."""
    threshold = pattern.score_threshold or 0.0
    judged = [
        j
        for j, label in enumerate(labels)
        if scores[j] >= threshold and label not in pattern.ignore
    ]
    positions: list[PositionResult] = []
    claimed: set[int] = set()
    for label in sorted({o.label for o in pattern.objects}):
        expected = [i for i, o in enumerate(pattern.objects) if o.label == label]
        candidates = [j for j in judged if labels[j] == label]
        tolerances = [pattern.tolerance_of(i) for i in expected]
        e_boxes = np.array([pattern.objects[i].box for i in expected], np.float64)
        d_boxes = cxcywh[candidates].reshape(-1, 4)
        pairs = {pair.row: pair for pair in assign(e_boxes, d_boxes, tolerances)}
        for row, index in enumerate(expected):
            pair = pairs.get(row)
            if pair is None:
                positions.append(PositionResult(index, label, _box(e_boxes[row]), "missing"))
                continue
            j = candidates[pair.column]
            claimed.add(j)
            positions.append(_position(index, label, e_boxes[row], cxcywh[j], j, scores[j], pair))
    positions.sort(key=lambda p: p.index)
    extras = tuple(
        ExtraResult(j, labels[j], _box(cxcywh[j]), float(scores[j]), labels[j] in pattern.counts)
        for j in judged
        if j not in claimed
    )
    counts = tuple(
        CountResult(label, sum(labels[j] == label for j in judged), low, high)
        for label, (low, high) in sorted(pattern.counts.items())
    )
    return Inspection(name, tuple(positions), extras, counts, pattern.allow_extras)


def choose(inspections: Sequence[Inspection]) -> Inspection:
    """The pattern that fits best: fewest errors, then the smallest total offset, then name."""
    return min(inspections, key=lambda i: (i.errors, i.total_offset, i.pattern))


def within(delta: Box, iou: float, tolerance: Tolerance) -> bool:
    """Whether a found box with this delta and IoU lies within `tolerance`."""
    deltas = np.array(delta, np.float64).reshape(1, 1, 4)
    return bool(within_matrix(deltas, np.array([[iou]]), [tolerance])[0, 0])


def within_matrix(
    delta: npt.NDArray[np.float64], ious: npt.NDArray[np.float64], tolerances: Sequence[Tolerance]
) -> npt.NDArray[np.bool_]:
    """(M, N): whether each found box (delta (M, N, 4), IoU (M, N)) lies within the tolerance of
    its expected box (row); a criterion not given always holds."""
    limits = np.array(
        [[np.inf if v is None else v for v in (t.x, t.y, t.w, t.h)] for t in tolerances]
    ).reshape(-1, 4)
    least = np.array([-np.inf if t.min_iou is None else t.min_iou for t in tolerances])
    close = (np.abs(delta) <= limits[:, None, :] + _EPS).all(axis=2)
    inside: npt.NDArray[np.bool_] = close & (ious >= least[:, None] - _EPS)
    return inside


def iou_cxcywh(a: Boxes, b: Boxes) -> npt.NDArray[np.float64]:
    """IoU of every box of `a` (M, 4) with every box of `b` (N, 4): (M, N)."""
    a_lo, a_hi = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b_lo, b_hi = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    overlap = np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0.0, None).prod(axis=2)
    union = a[:, None, 2:].prod(axis=2) + b[None, :, 2:].prod(axis=2) - overlap
    return np.where(union > 0, overlap / np.where(union > 0, union, 1.0), 0.0)


class Pair(NamedTuple):
    """An expected box (row) assigned a found box (column); whether it lies within tolerance."""

    row: int
    column: int
    inside: bool
    iou: float


def assign(expected: Boxes, found: Boxes, tolerances: Sequence[Tolerance]) -> list[Pair]:
    """A one-to-one assignment: fewest pairs out of tolerance first, then the least total
    offset. Every position gets a detection while any is left."""
    if not len(expected) or not len(found):
        return []
    delta = found[None, :, :] - expected[:, None, :]
    offsets = np.linalg.norm(delta, axis=2)
    ious = iou_cxcywh(expected, found)
    inside = within_matrix(delta, ious, tolerances)
    # One pair out of tolerance costs more than every offset of the matrix together.
    cost = offsets + np.where(inside, 0.0, offsets.sum() + 1.0)
    rows, columns = _solver()(cost)
    return [
        Pair(int(r), int(c), bool(inside[r, c]), float(ious[r, c]))
        for r, c in zip(rows, columns, strict=True)
    ]


def warm() -> None:
    """Import scipy now (a second, once) rather than in the first inspection; without the
    `inspect` extra, nothing happens here and inspections say what to install."""
    with contextlib.suppress(ExtraNotInstalled):
        _solver()


def _solver() -> Callable[[npt.NDArray[np.float64]], tuple[Any, Any]]:
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as exc:
        raise ExtraNotInstalled(
            "inspection assigns boxes with scipy: pip install 'fovea-serve[inspect]'"
        ) from exc
    solve: Callable[[npt.NDArray[np.float64]], tuple[Any, Any]] = linear_sum_assignment
    return solve


def _position(
    index: int,
    label: str,
    expected: Boxes,
    found: Boxes,
    detection: int,
    score: float,
    pair: Pair,
) -> PositionResult:
    return PositionResult(
        index,
        label,
        _box(expected),
        "found" if pair.inside else "misplaced",
        detection,
        _box(found),
        round(float(score), 5),
        _box(found - expected),
        round(float(np.linalg.norm(found - expected)), 6),
        round(pair.iou, 5),
    )


def _box(values: Boxes) -> Box:
    a, b, c, d = (round(float(v), 6) + 0.0 for v in values)  # + 0.0: no -0.0 in the JSON
    return a, b, c, d
