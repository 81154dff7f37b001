from __future__ import annotations

import numpy as np
import pytest

from fovea.tasks.detect._nms import box_iou, nms


def _arrays(rows: list[tuple[float, float, float, float, float, int]]):  # type: ignore[no-untyped-def]
    a = np.array(rows, np.float32).reshape(-1, 6)
    return a[:, :4], a[:, 4], a[:, 5].astype(np.int64)


@pytest.mark.parametrize(
    ("rows", "iou", "max_keep", "kept"),
    [
        ([], 0.5, 10, []),
        ([(0, 0, 10, 10, 0.9, 0)], 0.5, 10, [0]),
        # Same class, IoU 81/100 = 0.81 > 0.5: the weaker box goes.
        ([(0, 0, 10, 10, 0.8, 0), (1, 1, 10, 10, 0.9, 0)], 0.5, 10, [1]),
        # Same boxes, different classes: both stay.
        ([(0, 0, 10, 10, 0.8, 0), (1, 1, 10, 10, 0.9, 1)], 0.5, 10, [1, 0]),
        # IoU exactly 0.5 is kept (suppress only above the threshold).
        ([(0, 0, 10, 10, 0.9, 0), (0, 0, 10, 5, 0.8, 0)], 0.5, 10, [0, 1]),
        (
            [(0, 0, 10, 10, 0.9, 0), (20, 20, 30, 30, 0.8, 0), (40, 40, 50, 50, 0.7, 0)],
            0.5,
            2,
            [0, 1],
        ),
    ],
    ids=["empty", "one", "overlap", "other-class", "at-threshold", "max-keep"],
)
def test_nms(rows, iou, max_keep, kept) -> None:  # type: ignore[no-untyped-def]
    xyxy, score, class_id = _arrays(rows)
    assert nms(xyxy, score, class_id, iou, max_keep).tolist() == kept


def test_box_iou() -> None:
    box = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [3, 3, 3, 3]], np.float32)
    np.testing.assert_allclose(box_iou(box, others), [1.0, 50 / 150, 0.0, 0.0])
