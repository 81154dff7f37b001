"""Two-stage pipelines: which boxes are cropped and how, how classes merge under the label map,
the unknown label, and the checks at load time."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fovea.core import Classes, Detections
from fovea.errors import ModelConfigError
from fovea.models import PipelineModel, PipelineModelSpec, Repository, ServedModel, load_spec
from tests.helpers import make_detections, single, write_model

DETS = make_detections(
    [
        (10, 10, 50, 30, 0.9, 1),  # dog, 40x20
        (60, 60, 64, 64, 0.8, 1),  # dog, 4x4: too small
        (70, 0, 100, 40, 0.7, 2),  # person: not classified
    ]
).replace(labels=("cat", "dog", "person"))


@pytest.fixture(scope="module")
def repository(model_repo: Path) -> Repository:
    repo = Repository(model_repo)
    repo.scan()
    repo.load_all(only="pipeline-test")
    return repo


@pytest.fixture(scope="module")
def pipeline(repository: Repository) -> PipelineModel:
    model = repository.get("pipeline-test")
    assert isinstance(model, PipelineModel)
    return model


def test_loading_a_pipeline_loads_its_stages(repository: Repository) -> None:
    ready = {n for n, e in repository.entries.items() if e.status == "ready"}
    assert ready == {"pipeline-test", "yolov8-test", "colour-test"}  # and nothing else loaded


def test_crops_only_chosen_labels_of_useful_size_with_padding_and_square(
    pipeline: PipelineModel,
) -> None:
    image = Image.new("RGB", (100, 80))
    crops = pipeline.crops(image, DETS)
    assert [i for i, _ in crops] == [0]
    assert crops[0][1].size == (40, 40)  # square, no padding in this pipeline's model.toml
    spec = pipeline.spec.model_copy(
        update={
            "pipeline": pipeline.spec.pipeline.model_copy(
                update={"crop": pipeline.spec.pipeline.crop.model_copy(update={"padding": 0.5})}
            )
        }
    )
    padded = PipelineModel("p", spec, lambda name: _stage(pipeline, name)).crops(image, DETS)
    assert padded[0][1].size == (70, 60)  # 80x80 around (30, 20), clipped at the image's edges


def _stage(pipeline: PipelineModel, name: str) -> ServedModel:
    return pipeline.detector if name == "yolov8-test" else pipeline.classifier


def test_attach_merges_classes_reported_under_one_name(pipeline: PipelineModel) -> None:
    # colour-test labels: red, green, blue; the label map reports green and blue as "cool".
    answer = Classes(
        np.array([2, 0, 1]), np.array([0.5, 0.3, 0.2], np.float32), ("red", "green", "blue")
    )
    dets = pipeline.attach(DETS, [0], [answer])
    assert dets.data["class_names"].tolist() == [["cool", "warm"], ["", ""], ["", ""]]
    np.testing.assert_allclose(dets.data["class_scores"][0], [0.7, 0.3], atol=1e-6)
    assert dets.data["class_ids"].tolist() == [[1, 0], [-1, -1], [-1, -1]]


def test_a_weak_best_class_is_reported_as_unknown(pipeline: PipelineModel) -> None:
    spec = pipeline.spec.model_copy(
        update={"pipeline": pipeline.spec.pipeline.model_copy(update={"min_score": 0.8})}
    )
    model = PipelineModel("p", spec, lambda name: _stage(pipeline, name))
    answer = Classes(np.array([0]), np.array([0.5], np.float32), ("red", "green", "blue"))
    assert model.attach(DETS, [0], [answer]).data["class_names"][0].tolist() == ["unknown", ""]


def _photo_with_a_coloured_dog(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (1000, 600), (128, 128, 128))
    image.paste(colour, (313, 113, 625, 425))  # the planted dog box on a 1000x600 image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("colour", "name"), [((230, 20, 20), "warm"), ((20, 20, 230), "cool")])
def test_the_dog_box_is_classified_by_its_crop(
    pipeline: PipelineModel, colour: tuple[int, int, int], name: str
) -> None:
    result = pipeline.predict(_photo_with_a_coloured_dog(colour)).result
    assert isinstance(result, Detections)
    assert result.class_name == ["dog", "person"]
    assert result.data["class_names"][0, 0] == name
    assert result.data["class_scores"][0, 0] > 0.9
    assert result.data["class_names"][1].tolist() == ["", ""]  # person boxes are not classified


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('detector = "yolov8-test"', 'detector = "colour-test"'), "is a classify"),
        (('classifier = "colour-test"', 'classifier = "yolov8-test"'), "is a detect model"),
        (('classify = ["dog"]', 'classify = ["horse"]'), r"lacks: \['horse'\]"),
        (('red = "warm"', 'purple = "warm"'), r"lacks: \['purple'\]"),
    ],
)
def test_stages_are_checked_at_load(
    model_repo: Path, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    root = tmp_path / "models"
    for stage in ("yolov8-test", "colour-test"):
        (root / stage).parent.mkdir(parents=True, exist_ok=True)
        (root / stage).symlink_to(model_repo / stage)
    text = (model_repo / "pipeline-test" / "model.toml").read_text().replace(*change)
    write_model(root, "p", text, {})
    repo = Repository(root)
    repo.scan()
    repo.load_all()
    assert repo.entries["p"].status == "failed"
    with pytest.raises(ModelConfigError, match=message):
        raise ModelConfigError(repo.entries["p"].error or "")
    assert single(repo, "yolov8-test").labels == ("cat", "dog", "person")


def test_a_pipeline_spec_has_no_weights(model_repo: Path) -> None:
    spec = load_spec(model_repo / "pipeline-test")
    assert isinstance(spec, PipelineModelSpec)
    assert (spec.task, spec.pipeline.detector, spec.pipeline.top_k) == ("detect", "yolov8-test", 2)
