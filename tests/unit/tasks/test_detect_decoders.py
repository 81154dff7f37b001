"""yolov8, yolov5, boxes and ssd decoders on hand-made tensors."""

from __future__ import annotations

import numpy as np
import pytest

from fovea.tasks import DecodeContext
from fovea.tasks.detect import FAMILIES, select
from tests.helpers import make_detections

CONTEXT = DecodeContext(input_wh=(640, 480), score_threshold=0.3, source_classes=2)


def test_yolov8_channels_first() -> None:
    # Two anchors: cx, cy, w, h rows then 2 class rows.
    raw = np.array([[100, 300], [50, 200], [20, 40], [10, 60], [0.1, 0.2], [0.7, 0.25]], np.float32)
    dets = FAMILIES["yolov8"].decode({"output": raw}, CONTEXT)
    np.testing.assert_allclose(dets.xyxy, [[90, 45, 110, 55]])
    assert dets.class_id.tolist() == [1]
    assert dets.score.tolist() == pytest.approx([0.7])


def test_yolov8_transposed_export_gives_the_same() -> None:
    raw = np.array([[100, 50, 20, 10, 0.1, 0.7]], np.float32)
    dets = FAMILIES["yolov8"].decode({"output": raw}, CONTEXT)
    np.testing.assert_allclose(dets.xyxy, [[90, 45, 110, 55]])


def test_yolov8_rejects_a_label_count_that_does_not_fit() -> None:
    raw = np.zeros((4 + 3, 10), np.float32)
    with pytest.raises(ValueError, match=r"3 class columns but model\.toml lists 2 labels"):
        FAMILIES["yolov8"].decode({"output": raw}, CONTEXT)


def test_yolov8_nothing_above_threshold_is_empty() -> None:
    dets = FAMILIES["yolov8"].decode({"output": np.zeros((6, 100), np.float32)}, CONTEXT)
    assert len(dets) == 0
    assert dets.xyxy.shape == (0, 4)


def test_yolov5_score_is_objectness_times_class() -> None:
    rows = np.array(
        [
            [100, 50, 20, 10, 0.5, 0.9, 0.1],  # 0.45 class 0: kept
            [200, 60, 40, 20, 0.9, 0.2, 0.3],  # 0.27: below 0.3
            [300, 70, 40, 20, 0.2, 1.0, 0.0],  # objectness below the threshold
        ],
        np.float32,
    )
    dets = FAMILIES["yolov5"].decode({"output": rows}, CONTEXT)
    np.testing.assert_allclose(dets.xyxy, [[90, 45, 110, 55]])
    assert dets.score.tolist() == pytest.approx([0.45])
    assert dets.class_id.tolist() == [0]


def test_boxes_decoder_takes_xyxy_score_class() -> None:
    rows = np.array([[10, 20, 30, 40, 0.9, 1], [0, 0, 5, 5, 0.1, 0]], np.float32)
    dets = FAMILIES["boxes"].decode({"output": rows}, CONTEXT)
    np.testing.assert_allclose(dets.xyxy, [[10, 20, 30, 40]])
    assert dets.class_id.tolist() == [1]
    assert FAMILIES["boxes"].has_nms


def test_ssd_decoder_scales_normalised_yxyx_and_honours_count() -> None:
    outputs = {
        "boxes": np.array([[0.1, 0.25, 0.5, 0.75], [0, 0, 1, 1], [0, 0, 1, 1]], np.float32),
        "scores": np.array([0.8, 0.6, 0.99], np.float32),
        "classes": np.array([2.0, 1.0, 1.0], np.float32),
        "num_detections": np.array(2.0, np.float32),  # the third row is padding
    }
    context = DecodeContext((640, 480), score_threshold=0.3, class_offset=1)
    dets = FAMILIES["ssd"].decode(outputs, context)
    np.testing.assert_allclose(dets.xyxy, [[160, 48, 480, 240], [0, 0, 640, 480]])
    assert dets.class_id.tolist() == [1, 0]


def test_select_remaps_merges_and_drops_unmapped_classes() -> None:
    dets = make_detections(
        [
            (0, 0, 10, 10, 0.9, 0),  # cat -> animal
            (1, 1, 10, 10, 0.8, 1),  # dog -> animal: overlaps the cat, merged by NMS
            (50, 50, 60, 60, 0.7, 2),  # person -> human
            (80, 80, 90, 90, 0.95, 3),  # chair: not in the class map, dropped
        ]
    )
    remap = np.array([0, 0, 1, -1], np.int64)
    out = select(dets, DecodeContext((640, 480), iou_threshold=0.5, max_detections=10, remap=remap))
    assert out.class_id.tolist() == [0, 1]
    assert out.score.tolist() == pytest.approx([0.9, 0.7])


def test_select_keeps_allowed_classes_and_caps() -> None:
    dets = make_detections([(0, 0, 1, 1, 0.5, 0), (5, 5, 6, 6, 0.9, 1), (8, 8, 9, 9, 0.8, 1)])
    out = select(dets, DecodeContext((9, 9), max_detections=1, allowed=frozenset({1})))
    assert out.score.tolist() == pytest.approx([0.9])
    assert len(select(dets[np.zeros(3, bool)], DecodeContext((9, 9)))) == 0
