from __future__ import annotations

from pathlib import Path

import pytest

from fovea.errors import ModelConfigError
from fovea.models import load_spec
from tests.helpers import model_spec

VALID = """
task = "detect"
decoder = "yolov8"
labels = ["animal", "person", "vehicle"]
[input]
size = [640, 640]
resize = "letterbox"
[postprocess]
score_threshold = 0.2
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "model.toml").write_text(text)
    return tmp_path


def test_valid_spec_with_defaults(tmp_path: Path) -> None:
    spec = model_spec(_write(tmp_path, VALID))
    assert spec.labels == ("animal", "person", "vehicle")
    assert spec.input.size_wh == (640, 640)
    assert spec.input.pad_value == 114
    assert spec.postprocess.score_threshold == 0.2
    assert spec.postprocess.iou_threshold == 0.45


def test_labels_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("cat\n\ndog\n")
    text = VALID.replace('labels = ["animal", "person", "vehicle"]', 'labels_file = "labels.txt"')
    assert model_spec(_write(tmp_path, text)).labels == ("cat", "dog")


def test_class_map_reports_targets_in_first_seen_order(tmp_path: Path) -> None:
    text = VALID + '[class_map]\nperson = "human"\nanimal = "beast"\nvehicle = "human"\n'
    assert model_spec(_write(tmp_path, text)).reported_labels == ("human", "beast")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('decoder = "yolov8"', 'decoder = "yolov9"'), "decoder 'yolov9' is not a detect decoder"),
        (("size = [640, 640]", "size = [640]"), "input.size"),
        (('resize = "letterbox"', 'resize = "squash"'), "input.resize"),
        (("score_threshold = 0.2", "score_threshold = 2"), "postprocess.score_threshold"),
        (("[input]", "colour = 1\n[input]"), "colour: Extra inputs are not permitted"),
        (("[postprocess]", "std = [1, 0, 1]\n[postprocess]"), "std must not contain 0"),
        (
            ("[postprocess]", '[class_map]\ncat = "animal"\n[postprocess]'),
            "class_map names labels the model does not have: ['cat']",
        ),
        (('task = "detect"', 'task = "detect"\nlabels_file = "x.txt"'), "x.txt"),
        (("task = ", "task = = "), "not valid TOML"),
    ],
)
def test_invalid_specs_say_exactly_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(ModelConfigError, match=None) as caught:
        load_spec(_write(tmp_path, VALID.replace(*change)))
    assert message in caught.value.detail


def test_missing_model_toml(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="not found"):
        load_spec(tmp_path)


def test_metadata_is_free_form_text_and_numbers(tmp_path: Path) -> None:
    text = VALID + '[metadata]\ndetector = "md_v5a.0.0.pt"\ntypical = 0.2\nimage_size = 1280\n'
    metadata = model_spec(_write(tmp_path, text)).metadata
    assert metadata == {"detector": "md_v5a.0.0.pt", "typical": 0.2, "image_size": 1280}
    assert isinstance(metadata["image_size"], int)
    assert model_spec(_write(tmp_path, VALID)).metadata == {}


@pytest.mark.parametrize("value", ["true", "[0.2, 0.05]", "{ a = 1 }"])
def test_metadata_values_are_text_or_numbers_only(tmp_path: Path, value: str) -> None:
    with pytest.raises(ModelConfigError, match=r"metadata\.x"):
        load_spec(_write(tmp_path, VALID + f"[metadata]\nx = {value}\n"))
