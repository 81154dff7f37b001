"""model.toml's `[explain] activation`: read, checked against the graph at load with a readable
reason, and handed to explanations with the outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fovea.errors import ModelConfigError
from fovea.models import ACTIVATION, Repository, load_spec
from tests import onnx_models
from tests.helpers import model_spec, single, write_model

CAM = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
outputs = {{ output = "logits" }}
[input]
size = [32, 32]
resize = "stretch"
[explain]
activation = "{activation}"
"""


def _repository(tmp_path: Path, activation: str) -> Repository:
    onnx = onnx_models.colour_cam_classifier(tmp_path / "cam.onnx")
    write_model(tmp_path / "models", "cam", CAM.format(activation=activation), {"1": onnx})
    repo = Repository(tmp_path / "models")
    repo.scan()
    repo.load_all()
    return repo


def test_the_activation_comes_with_the_outputs(tmp_path: Path) -> None:
    model = single(_repository(tmp_path, "features"), "cam")
    assert model.activation == "features"
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    prediction = model.predict(red, keep_outputs=True)
    assert prediction.outputs is not None
    activation = prediction.outputs[ACTIVATION]
    assert activation.shape == (3, 8, 8)
    assert activation[0].min() == pytest.approx(1.0)  # red, scaled to 0..1
    assert model.predict(red).outputs is None  # kept only when asked for


def test_an_activation_the_graph_lacks_fails_the_model_with_its_reason(tmp_path: Path) -> None:
    repo = _repository(tmp_path, "conv_last")
    entry = repo.entries["cam"]
    assert entry.status == "failed"
    assert entry.error == (
        "explain.activation 'conv_last' is not an output of the graph; "
        "it has ['logits', 'features']"
    )


def test_an_activation_that_is_not_a_feature_map_fails_at_warm_up(tmp_path: Path) -> None:
    entry = _repository(tmp_path, "logits").entries["cam"]
    assert entry.status == "failed"
    assert "explain.activation 'logits' must be (N, C, h, w)" in (entry.error or "")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('activation = ""', "explain.activation: String should have at least 1"),
        ("layer = 3", "explain.layer: Extra inputs are not permitted"),
    ],
)
def test_the_section_is_validated(tmp_path: Path, section: str, message: str) -> None:
    text = CAM.format(activation="x").replace('activation = "x"', section)
    (tmp_path / "model.toml").write_text(text)
    with pytest.raises(ModelConfigError, match=message):
        load_spec(tmp_path)


def test_no_section_means_no_activation(tmp_path: Path) -> None:
    (tmp_path / "model.toml").write_text(CAM.format(activation="x").split("[explain]")[0])
    assert model_spec(tmp_path).explain.activation is None
