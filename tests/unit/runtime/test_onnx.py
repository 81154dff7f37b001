"""ONNX Runtime sessions: the idle session gives the same answers with more threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fovea.runtime.onnx import OnnxModel, RuntimeOptions
from tests import onnx_models


def test_an_idle_session_exists_only_when_it_has_more_threads(tmp_path: Path) -> None:
    path = onnx_models.colour_classifier(tmp_path / "cls.onnx")
    assert OnnxModel(path, RuntimeOptions(intra_op_threads=1, idle_threads=1)).idle_session is None
    model = OnnxModel(path, RuntimeOptions(intra_op_threads=1, idle_threads=2))
    assert model.idle_session is not None
    batch = np.random.default_rng(3).random((2, 3, 32, 32), np.float32)
    busy, idle = model.run(batch), model.run(batch, idle=True)
    np.testing.assert_array_equal(busy["logits"], idle["logits"])
