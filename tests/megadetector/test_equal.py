"""Fovea serves an imported MegaDetector with MegaDetector's own answers.

The real architectures with random weights (their heads scaled so scores vary with the image) are
saved as MegaDetector's releases are, imported with `fovea models import megadetector`, and every
photo goes through Fovea's pipeline and through the release's own detector: MegaDetector's
PTDetector for v5 (yolov5), ultralytics' predictor for PyTorch-Wildlife's v6. With the same
letterbox (a square of the model's size), every box must agree within 1 px and every confidence
within 0.001 (MegaDetector truncates its confidences to 3 decimals: Fovea's score may exceed it by
up to 0.001, plus 1e-4 for ONNX Runtime against PyTorch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.importers import import_megadetector
from tests.megadetector.conftest import MODE, Tools, full_only

pytestmark = [pytest.mark.megadetector, pytest.mark.timeout(3600)]

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
ALL_PHOTOS = ["chelsea.jpg", "astronaut.jpg", "coffee.jpg", "motorcycle.jpg", "grace_hopper.jpg"]
BOUNDED_PHOTOS = ["chelsea.jpg"]
THRESHOLD = 0.2  # MegaDetector v5's typical threshold
MARGIN = 0.002  # detections this close to the threshold may fall either side of it


@dataclass(frozen=True)
class Release:
    arch: str  # what tools_side.py builds
    filename: str  # the release's file name
    family: str
    size: int
    iou: float


V5 = Release("yolov5x6", "md_v5a.0.0.pt", "yolov5", 1280, 0.45)
V6 = Release("yolov9c.yaml", "MDV6b-yolov9c.pt", "ultralytics", 640, 0.7)


@dataclass(frozen=True)
class Imported:
    release: Release
    weights: Path
    repository: Path
    name: str


def photos() -> list[str]:
    return ALL_PHOTOS if MODE == "full" else BOUNDED_PHOTOS


def _import(tools: Tools, release: Release, tmp: Path) -> Imported:
    weights = tmp / release.filename
    tools.run("build", release.arch, str(weights), ",".join(photos()))
    folder = import_megadetector(weights, tmp / "models", tools_dir=tools.tools_dir, say=print)
    return Imported(release, weights, tmp / "models", folder.name)


@pytest.fixture(scope="module")
def v5(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return _import(tools, V5, tmp_path_factory.mktemp("v5"))


@pytest.fixture(scope="module")
def v6(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    if MODE != "full":
        pytest.skip("FOVEA_MEGADETECTOR_TESTS=full runs it (make test-megadetector)")
    return _import(tools, V6, tmp_path_factory.mktemp("v6"))


_ANSWERS: dict[tuple[str, bool, tuple[str, ...]], list[dict[str, Any]]] = {}


def reference(
    tools: Tools, model: Imported, photos: list[str], square: bool, tmp: Path
) -> list[dict[str, Any]]:
    """The reference's answers (each model, letterbox and photo list run once a session)."""
    key = (str(model.weights), square, tuple(photos))
    if key not in _ANSWERS:
        _ANSWERS[key] = _reference(tools, model, photos, square, tmp)
    return _ANSWERS[key]


def _reference(
    tools: Tools, model: Imported, photos: list[str], square: bool, tmp: Path
) -> list[dict[str, Any]]:
    release = model.release
    request = {
        "family": release.family,
        "photos": [str(PHOTOS / p) for p in photos],
        "square": square,
        "size": release.size,
        "threshold": THRESHOLD,
        "iou": release.iou,
    }
    (tmp / "request.json").write_text(json.dumps(request))
    tools.run("reference", str(model.weights), str(tmp / "request.json"), str(tmp / "out.json"))
    answers: list[dict[str, Any]] = json.loads((tmp / "out.json").read_text())
    return answers


def fovea(model: Imported, photos: list[str]) -> list[dict[str, Any]]:
    settings = Settings(model_repository=model.repository, workers=1)
    with TestClient(create_app(settings)) as client:
        answers = []
        for photo in photos:
            files = [("files", (photo, (PHOTOS / photo).read_bytes(), "image/jpeg"))]
            response = client.post(
                f"/v1/models/{model.name}/predict",
                files=files,
                params={"score_threshold": THRESHOLD},
            )
            assert response.status_code == 200, response.text
            answers.append(response.json()["outputs"][0])
    return answers


def as_pixels(detection: dict[str, Any], size_wh: list[int]) -> tuple[int, float, list[float]]:
    """A MegaDetector detection as (class id from 0, confidence, x1 y1 x2 y2 in pixels)."""
    width, height = size_wh
    x, y, w, h = detection["bbox"]
    box = [x * width, y * height, (x + w) * width, (y + h) * height]
    return int(detection["category"]) - 1, float(detection["conf"]), box


def unmatched(
    ours: list[dict[str, Any]], theirs: list[tuple[int, float, list[float]]], truncated: bool
) -> tuple[list[Any], list[Any], int]:
    """Detections of either side with no counterpart on the other (same class, each corner within
    1 px, confidence within 0.001), ignoring those within MARGIN of the threshold."""

    def close(a: dict[str, Any], b: tuple[int, float, list[float]]) -> bool:
        difference = a["score"] - b[1]
        near = -1e-4 <= difference <= 0.0011 if truncated else abs(difference) <= 0.001
        corners = all(abs(p - q) <= 1.0 for p, q in zip(a["box"], b[2], strict=True))
        return a["class_id"] == b[0] and near and corners

    ours_left = [a for a in ours if a["score"] >= THRESHOLD + MARGIN]
    theirs_left = [b for b in theirs if b[1] >= THRESHOLD + MARGIN]
    matched = 0
    for a in list(ours_left):
        partner = next((b for b in theirs if close(a, b)), None)
        if partner is not None:
            ours_left.remove(a)
            matched += 1
            if partner in theirs_left:
                theirs_left.remove(partner)
    theirs_left = [b for b in theirs_left if not any(close(a, b) for a in ours)]
    return ours_left, theirs_left, matched


def check_equal(model: Imported, photos: list[str], tools: Tools, tmp: Path) -> None:
    theirs = reference(tools, model, photos, square=True, tmp=tmp)
    ours = fovea(model, photos)
    total = 0
    for photo, mine, their in zip(photos, ours, theirs, strict=True):
        pixels = [as_pixels(d, their["size_wh"]) for d in their["detections"]]
        only_ours, only_theirs, matched = unmatched(
            mine["detections"], pixels, truncated=model.release.family == "yolov5"
        )
        assert only_ours == [], f"{photo}: Fovea found what the reference did not"
        assert only_theirs == [], f"{photo}: the reference found what Fovea did not"
        print(f"{photo}: {matched} detections equal")
        total += matched
    assert total >= 5 * len(photos), "too few detections to compare: perturb the heads more"


def test_megadetector_v5_equals_megadetectors_own_pipeline(
    v5: Imported, tools: Tools, tmp_path: Path
) -> None:
    check_equal(v5, photos(), tools, tmp_path)


@full_only()
def test_megadetector_v6_equals_pytorch_wildlifes_pipeline(
    v6: Imported, tools: Tools, tmp_path: Path
) -> None:
    check_equal(v6, ALL_PHOTOS, tools, tmp_path)


@full_only()
def test_what_megadetectors_stride_letterbox_changes(
    v5: Imported, tools: Tools, tmp_path: Path
) -> None:
    """MegaDetector pads to a multiple of 64 (chelsea: 1280x896), Fovea to a square (1280x1280).
    Measure how far its answers then move: printed, and bounded loosely (they are different
    inputs to the network, so only most detections should survive)."""
    stride = reference(tools, v5, ALL_PHOTOS, square=False, tmp=tmp_path)
    square = reference(tools, v5, ALL_PHOTOS, square=True, tmp=tmp_path)
    for photo, a, b in zip(ALL_PHOTOS, stride, square, strict=True):
        padded = [as_pixels(d, a["size_wh"]) for d in a["detections"]]
        squared = [as_pixels(d, b["size_wh"]) for d in b["detections"]]
        matches = [_best(d, squared) for d in padded]
        conf = [abs(d[1] - m[1]) for d, m in zip(padded, matches, strict=True) if m]
        shift = [
            max(abs(p - q) for p, q in zip(d[2], m[2], strict=True))
            for d, m in zip(padded, matches, strict=True)
            if m
        ]
        print(
            f"{photo} {a['size_wh']}: input {a['input_hw']} vs {b['input_hw']}; "
            f"{len(padded)} vs {len(squared)} detections, {len(conf)} matched (IoU>0.5); "
            f"|conf diff| max {max(conf, default=0):.3f} mean {sum(conf) / max(len(conf), 1):.3f}; "
            f"corner shift max {max(shift, default=0):.1f} px"
        )
        if a["size_wh"][0] == a["size_wh"][1]:  # a square photo: the same letterbox
            assert a["detections"] == b["detections"]


def _best(
    detection: tuple[int, float, list[float]], others: list[tuple[int, float, list[float]]]
) -> tuple[int, float, list[float]] | None:
    def iou(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    same = [o for o in others if o[0] == detection[0] and iou(o[2], detection[2]) > 0.5]
    return max(same, key=lambda o: iou(o[2], detection[2]), default=None)
