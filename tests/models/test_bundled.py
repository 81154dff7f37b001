"""The bundled models on real photos, through the HTTP layer, against hand-labelled truth."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.api.app import create_app
from fovea.config import Settings

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
TRUTH = json.loads((PHOTOS / "labels.json").read_text())


@pytest.fixture(scope="module")
def bundled() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as client:
        yield client


def _predict(client: TestClient, model: str, photo: str) -> dict[str, Any]:
    files = {"files": (photo, (PHOTOS / photo).read_bytes(), "image/jpeg")}
    response = client.post(f"/v1/models/{model}/predict", files=files)
    assert response.status_code == 200, response.text
    output: dict[str, Any] = response.json()["outputs"][0]
    return output


def _truth(photo: str, label: str) -> list[float]:
    return next(o["box"] for o in TRUTH[photo]["objects"] if o["label"] == label)


def iou(a: list[float], b: list[float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def test_every_bundled_model_is_ready(bundled: TestClient) -> None:
    ready = bundled.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert set(ready.json()["models"]) >= {
        "coco",
        "coco-camtrap",
        "person-segmentation",
        "face-detection",
        "imagenet",
        "camtrap-species",
    }


@pytest.mark.parametrize(
    ("model", "photo", "label", "truth_label"),
    [
        ("coco", "astronaut.jpg", "person", "person"),
        ("coco", "grace_hopper.jpg", "person", "person"),
        ("coco", "chelsea.jpg", "cat", "cat"),
        ("coco", "motorcycle.jpg", "motorcycle", "motorcycle"),
        ("coco-camtrap", "chelsea.jpg", "animal", "cat"),
        ("coco-camtrap", "astronaut.jpg", "person", "person"),
        ("coco-camtrap", "motorcycle.jpg", "vehicle", "motorcycle"),
        ("face-detection", "astronaut.jpg", "face", "face"),
        ("face-detection", "grace_hopper.jpg", "face", "face"),
    ],
)
def test_detectors_find_the_labelled_object(
    bundled: TestClient, model: str, photo: str, label: str, truth_label: str
) -> None:
    detections = _predict(bundled, model, photo)["detections"]
    boxes = [d["box"] for d in detections if d["label"] == label]
    assert boxes, f"no {label} in {detections}"
    assert max(iou(box, _truth(photo, truth_label)) for box in boxes) >= 0.5


def test_camtrap_reports_only_megadetector_categories(bundled: TestClient) -> None:
    for photo in ("chelsea.jpg", "motorcycle.jpg", "coffee.jpg"):
        labels = {d["label"] for d in _predict(bundled, "coco-camtrap", photo)["detections"]}
        assert labels <= {"animal", "person", "vehicle"}


def test_face_keypoints_lie_inside_the_face(bundled: TestClient) -> None:
    [face] = _predict(bundled, "face-detection", "astronaut.jpg")["detections"]
    x1, y1, x2, y2 = face["box"]
    assert len(face["keypoints"]) == 6
    for x, y in face["keypoints"][:4]:  # eyes, nose, mouth; the ears sit on the box's edge
        assert x1 <= x <= x2
        assert y1 <= y <= y2


def _person_mask(client: TestClient, photo: str) -> tuple[np.ndarray, np.ndarray]:
    mask_out = _predict(client, "person-segmentation", photo)["mask"]
    assert mask_out["labels"] == ["background", "person"]
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(mask_out["png"])))) == 1
    truth = np.asarray(Image.open(PHOTOS / TRUTH[photo]["mask"])) > 127
    assert mask.shape == truth.shape
    return mask, truth


def test_person_mask_matches_the_hand_drawn_portrait_mask(bundled: TestClient) -> None:
    mask, truth = _person_mask(bundled, "grace_hopper.jpg")
    assert (mask & truth).sum() / (mask | truth).sum() >= 0.8  # measured 0.98


def test_person_mask_covers_the_astronaut(bundled: TestClient) -> None:
    mask, truth = _person_mask(bundled, "astronaut.jpg")
    assert (mask & truth).sum() / truth.sum() >= 0.97
    # The model also claims the helmet she holds (probability 0.99 there), which the hand-drawn
    # mask leaves out: IoU measured 0.75, so this photo checks coverage, not the 0.8 IoU.
    assert (mask & truth).sum() / (mask | truth).sum() >= 0.7


def test_camtrap_species_names_the_cat_and_only_ever_an_animal(bundled: TestClient) -> None:
    import tomllib

    from fovea.models import BUNDLED

    spec = tomllib.loads((BUNDLED / "camtrap-species" / "model.toml").read_text())["pipeline"]
    animals = {*spec["label_map"].values(), spec["unknown_label"]}
    cat = _predict(bundled, "camtrap-species", "chelsea.jpg")["detections"]
    assert [d["label"] for d in cat] == ["animal"]
    assert cat[0]["classes"][0]["label"] == "cat"
    assert cat[0]["classes"][0]["score"] > 0.5
    for photo in ("astronaut.jpg", "coffee.jpg", "motorcycle.jpg", "grace_hopper.jpg"):
        for d in _predict(bundled, "camtrap-species", photo)["detections"]:
            names = {c["label"] for c in d.get("classes") or []}
            assert names <= animals  # an animal box gets an animal name, anything else none
            assert d["label"] == "animal" or not names


def test_camtrap_species_calls_horses_horses_or_unknown_animals(bundled: TestClient) -> None:
    # NanoDet finds four animals (it calls some of them cows); ImageNet knows one horse class.
    animals = _predict(bundled, "camtrap-species", "horses.jpg")["detections"]
    assert len(animals) >= 3
    assert {d["label"] for d in animals} == {"animal"}
    names = [d["classes"][0]["label"] for d in animals]
    assert set(names) <= {"horse", "zebra", "unknown animal"}
    assert "horse" in names


def test_a_dog_and_a_person_in_one_photo(bundled: TestClient) -> None:
    labels = {d["label"] for d in _predict(bundled, "coco", "person_horse_dog.jpg")["detections"]}
    assert {"dog", "person"} <= labels
    species = _predict(bundled, "camtrap-species", "person_horse_dog.jpg")["detections"]
    named = {d["classes"][0]["label"] for d in species if d["label"] == "animal"}
    assert "dog" in named
