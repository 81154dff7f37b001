"""nanodet and blazeface decoders on hand-made tensors."""

from __future__ import annotations

import numpy as np
import pytest

from fovea.tasks import DecodeContext
from fovea.tasks.detect import FAMILIES
from fovea.tasks.detect.blazeface import anchors


def _nanodet_outputs(
    input_wh: tuple[int, int], num_classes: int = 3, bins: int = 11
) -> dict[str, np.ndarray]:
    w, h = input_wh
    out = {}
    for stride in (8, 16, 32):
        cells = -(-w // stride) * -(-h // stride)
        out[f"cls_{stride}"] = np.zeros((cells, num_classes), np.float32)
        out[f"dis_{stride}"] = np.zeros((cells, 4 * bins), np.float32)
    return out


def _peak(bins_per_side: tuple[int, int, int, int], bins: int = 11) -> np.ndarray:
    """Distance logits that put all probability on one bin per side."""
    logits = np.full((4, bins), -50.0, np.float32)
    logits[np.arange(4), bins_per_side] = 50.0
    return logits.reshape(-1)


def test_nanodet_box_from_cell_centre_and_distance_bins() -> None:
    outputs = _nanodet_outputs((32, 32))
    cell = 1 * 4 + 2  # stride 8 grid is 4x4: row 1, column 2 -> centre (20, 12)
    outputs["cls_8"][cell, 2] = 0.9
    outputs["dis_8"][cell] = _peak((1, 2, 3, 0))  # left 8, top 16, right 24, bottom 0
    outputs["cls_32"][0, 0] = 0.1  # under the threshold
    dets = FAMILIES["nanodet"].decode(outputs, DecodeContext((32, 32), score_threshold=0.3))
    np.testing.assert_allclose(dets.xyxy, [[12, -4, 44, 12]], atol=1e-3)
    assert dets.class_id.tolist() == [2]
    assert dets.score.tolist() == pytest.approx([0.9])


def test_nanodet_uniform_bins_give_the_mean_distance() -> None:
    outputs = _nanodet_outputs((32, 32))
    outputs["cls_16"][3, 0] = 0.8  # stride 16 grid 2x2: row 1, column 1 -> centre (24, 24)
    dets = FAMILIES["nanodet"].decode(outputs, DecodeContext((32, 32), score_threshold=0.3))
    np.testing.assert_allclose(dets.xyxy, [[24 - 80, 24 - 80, 24 + 80, 24 + 80]], atol=1e-3)


def test_nanodet_rejects_outputs_for_another_input_size() -> None:
    with pytest.raises(ValueError, match="stride 8 output has 16 cells, expected 64"):
        FAMILIES["nanodet"].decode(
            _nanodet_outputs((32, 32)), DecodeContext((64, 64), score_threshold=0.3)
        )


def test_blazeface_anchor_grid() -> None:
    centres = anchors((128, 128))
    assert centres.shape == (896, 2)
    np.testing.assert_allclose(centres[:2], [[4, 4], [4, 4]])  # 2 anchors per stride-8 cell
    np.testing.assert_allclose(centres[2], [12, 4])
    np.testing.assert_allclose(centres[512:518], [[8, 8]] * 6)  # 6 per stride-16 cell
    np.testing.assert_allclose(centres[-1], [120, 120])


def test_blazeface_box_score_and_keypoints() -> None:
    regressors = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10.0, np.float32)
    regressors[2, :4] = [10, 0, 20, 30]  # anchor (12, 4): centre (22, 4), 20 wide, 30 high
    regressors[2, 4:6] = [-3, 1]  # right eye
    logits[2] = 2.0
    logits[3] = 1000.0  # clipped like MediaPipe, no overflow
    outputs = {"regressors": regressors, "classificators": logits}
    dets = FAMILIES["blazeface"].decode(outputs, DecodeContext((128, 128), score_threshold=0.5))
    assert len(dets) == 2
    np.testing.assert_allclose(dets.xyxy[0], [12, -11, 32, 19])
    assert dets.score[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert dets.keypoints is not None
    np.testing.assert_allclose(dets.keypoints[0, 0], [9, 5])
    assert dets.class_id.tolist() == [0, 0]
