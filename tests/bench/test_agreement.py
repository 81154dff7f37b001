"""Agreement between a model and a variant of it: matched boxes, extras, score deltas."""

from __future__ import annotations

import numpy as np
import pytest

from fovea.bench.agreement import agreement, pairwise_iou
from fovea.core import Classes, Detections, Mask
from tests.helpers import make_detections

REFERENCE = make_detections([(0, 0, 100, 100, 0.9, 1), (200, 200, 300, 300, 0.6, 2)])


@pytest.mark.parametrize(
    ("variant", "matched", "extra", "delta"),
    [
        (REFERENCE, 2, 0, 0.0),
        (make_detections([(1, 1, 100, 100, 0.85, 1), (200, 200, 300, 300, 0.62, 2)]), 2, 0, 0.05),
        (make_detections([(20, 20, 100, 100, 0.9, 1), (200, 200, 300, 300, 0.6, 2)]), 1, 1, 0.0),
        (make_detections([(0, 0, 100, 100, 0.9, 2), (200, 200, 300, 300, 0.6, 2)]), 1, 1, 0.0),
        (make_detections([(200, 200, 300, 300, 0.6, 2)]), 1, 0, 0.0),
        (Detections.empty(), 0, 0, 0.0),
    ],
)
def test_boxes_match_by_label_and_iou(
    variant: Detections, matched: int, extra: int, delta: float
) -> None:
    found = agreement(REFERENCE, variant)
    assert (found.reference, found.matched, found.extra) == (2, matched, extra)
    assert found.max_score_delta == pytest.approx(delta, abs=1e-4)
    assert found.same == (matched == 2 and extra == 0)


def test_classes_and_masks() -> None:
    a = Classes(np.array([3, 1]), np.array([0.8, 0.1], np.float32))
    b = Classes(np.array([3, 1]), np.array([0.7, 0.2], np.float32))
    assert agreement(a, b).same
    assert agreement(a, b).max_score_delta == pytest.approx(0.1, abs=1e-4)
    assert not agreement(a, Classes(np.array([1]), np.array([0.9], np.float32))).same
    mask = Mask(np.zeros((10, 10), np.uint8))
    other = np.zeros((10, 10), np.uint8)
    other[0, :5] = 1
    assert agreement(mask, mask).same
    assert not agreement(mask, Mask(other)).same  # 5% of the pixels differ
    with pytest.raises(ValueError, match="cannot compare Mask with Classes"):
        agreement(mask, a)


def test_pairwise_iou() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(pairwise_iou(a, b), [[1.0, 1 / 3, 0.0, 0.0]])
