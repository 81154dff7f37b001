"""The bundled ImageNet classifier on real photos, through Repository / get / predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from fovea.core import Classes, Params
from fovea.models import BUNDLED, Repository, ServedModel
from fovea.vision import Limits, load_image
from tests.helpers import single

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
TRUTH = json.loads((PHOTOS / "labels.json").read_text())
CATS = {"tabby", "tiger cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def imagenet() -> ServedModel:
    repo = Repository(BUNDLED)
    repo.scan()
    repo.load_all(only="imagenet")
    return single(repo, "imagenet")


def _top(model: ServedModel, photo: str, k: int) -> list[tuple[str, float]]:
    data = (PHOTOS / photo).read_bytes()
    result = model.predict(data, Params(top_k=k)).result
    assert isinstance(result, Classes)
    return list(zip(result.class_name, result.score.tolist(), strict=True))


def test_labels_are_the_1000_imagenet_classes(imagenet: ServedModel) -> None:
    assert len(imagenet.labels) == len(set(imagenet.labels)) == 1000
    assert imagenet.labels[:2] == ("tench", "goldfish")
    assert imagenet.labels[285] == "Egyptian cat"


def test_the_cat_is_a_cat(imagenet: ServedModel) -> None:
    [(label, score)] = _top(imagenet, "chelsea.jpg", 1)
    assert label in CATS
    assert score > 0.5  # measured: Egyptian cat 0.74


def test_the_coffee_is_espresso(imagenet: ServedModel) -> None:
    [(label, score)] = _top(imagenet, "coffee.jpg", 1)
    assert label in {"espresso", "cup"}
    assert score > 0.5  # measured: espresso 0.86


def test_the_motorcycle_is_a_moped_or_scooter(imagenet: ServedModel) -> None:
    # ImageNet-1k has no "motorcycle": moped and motor scooter are its closest classes.
    top2 = {label for label, _ in _top(imagenet, "motorcycle.jpg", 2)}
    assert top2 & {"moped", "motor scooter"}  # measured: motor scooter 0.21, moped 0.16


def test_features_give_a_class_activation_map_on_the_cat(imagenet: ServedModel) -> None:
    prepared = imagenet.prepare(load_image((PHOTOS / "chelsea.jpg").read_bytes(), Limits()))
    outputs = imagenet.session.run(np.stack([prepared.tensor]))
    features, logits = outputs["features"], outputs["logits"]
    assert features.shape == (1, 1280, 9, 9)
    assert logits.shape == (1, 1000)

    # logits = Gemm(mean over the 9x9 cells of features): the map of class k is W[k] . features.
    graph = onnx.load(BUNDLED / "imagenet" / "1" / "model.onnx").graph
    [gemm] = [node for node in graph.node if node.op_type == "Gemm"]
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    w, b = weights[gemm.input[1]], weights[gemm.input[2]]
    k = int(logits[0].argmax())
    cam = np.einsum("c,chw->hw", w[k], features[0])
    assert cam.mean() + b[k] == pytest.approx(float(logits[0, k]), rel=1e-4)

    # The map's peak lies on the cat (labelled box, original pixels; cells cover the image).
    row, col = np.unravel_index(int(cam.argmax()), cam.shape)
    x1, y1, x2, y2 = TRUTH["chelsea.jpg"]["objects"][0]["box"]
    width, height = TRUTH["chelsea.jpg"]["width"], TRUTH["chelsea.jpg"]["height"]
    cx, cy = (col + 0.5) / 9 * width, (row + 0.5) / 9 * height
    assert x1 <= cx <= x2
    assert y1 <= cy <= y2


def test_batches_keep_one_feature_map_per_image(imagenet: ServedModel) -> None:
    tensors = [
        imagenet.prepare(load_image((PHOTOS / photo).read_bytes(), Limits())).tensor
        for photo in ("chelsea.jpg", "coffee.jpg")
    ]
    batch = imagenet.session.run(np.stack(tensors))
    single = imagenet.session.run(np.stack(tensors[1:]))
    assert batch["features"].shape == (2, 1280, 9, 9)
    np.testing.assert_allclose(batch["logits"][1], single["logits"][0], atol=1e-4)
