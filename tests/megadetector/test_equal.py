"""Fovea serves an imported MegaDetector with MegaDetector's own answers.

The real architectures with random weights (their heads scaled so scores vary with the image) are
saved as MegaDetector's releases are, imported with `fovea models import megadetector`, and every
photo goes through Fovea's pipeline and through the release's own detector: MegaDetector's
PTDetector for v5 (yolov5), ultralytics' predictor for PyTorch-Wildlife's v6.

With the same letterbox, every box must agree within 1 px and every confidence within 0.001
(MegaDetector truncates its confidences to 3 decimals: Fovea's score may exceed it by up to 0.001,
plus 1e-4 for ONNX Runtime against PyTorch). The same letterbox means the same pixels: each photo
is first resized (Pillow, bilinear) to the model's size on its long side and saved as PNG, so
neither pipeline resamples it; both pad it with grey 114 into a centred square (MegaDetector's
own padding, to a multiple of the stride, is forced to the square here). What MegaDetector's
padding and its OpenCV resampling change is measured apart (test_what_*).
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
THRESHOLD = 0.3  # a few dozen detections per photo, below the cap of 300
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
        "photos": [str(PHOTOS / p) for p in photos],  # a fixture's name, or any path
        "square": square,
        "size": release.size,
        "threshold": THRESHOLD,
        "iou": release.iou,
    }
    (tmp / "request.json").write_text(json.dumps(request))
    tools.run("reference", str(model.weights), str(tmp / "request.json"), str(tmp / "out.json"))
    answers: list[dict[str, Any]] = json.loads((tmp / "out.json").read_text())
    return answers


def presized(photos: list[str], size: int, tmp: Path) -> list[str]:
    """Each photo resized so its long side is `size` (as both pipelines would), its short side
    made even (one row or column less), saved as PNG. Even, so the padding splits evenly:
    MegaDetector maps boxes back through half the padding (214.5 for 851 rows in 1280) while the
    photo sits at a whole pixel (214), a half-pixel shift of its own, beside its rounding."""
    from PIL import Image

    paths = []
    for name in photos:
        image = Image.open(PHOTOS / name).convert("RGB")
        scale = size / max(image.size)
        w, h = round(image.width * scale), round(image.height * scale)
        resized = image.resize((w, h), Image.Resampling.BILINEAR)
        path = tmp / f"{Path(name).stem}-{size}.png"
        resized.crop((0, 0, w - (size - w) % 2, h - (size - h) % 2)).save(path)
        paths.append(str(path))
    return paths


def fovea(model: Imported, photos: list[str]) -> list[dict[str, Any]]:
    settings = Settings(model_repository=model.repository, workers=1)
    with TestClient(create_app(settings)) as client:
        answers = []
        for photo in photos:
            path = PHOTOS / photo  # a fixture's name, or any path
            files = [("files", (path.name, path.read_bytes(), "application/octet-stream"))]
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
    1 px, confidence within 0.001). Left out: those within MARGIN of the threshold, and boxes
    lying wholly in the grey border (clipped to nothing): there every anchor sees the same grey,
    so scores tie exactly and which of the tied boxes NMS keeps is arbitrary."""

    def close(a: dict[str, Any], b: tuple[int, float, list[float]]) -> bool:
        difference = a["score"] - b[1]
        near = -1e-4 <= difference <= 0.0011 if truncated else abs(difference) <= 0.001
        corners = all(abs(p - q) <= 1.0 for p, q in zip(a["box"], b[2], strict=True))
        return a["class_id"] == b[0] and near and corners

    def counts(score: float, box: list[float]) -> bool:
        return score >= THRESHOLD + MARGIN and min(box[2] - box[0], box[3] - box[1]) >= 1.0

    ours_left = [a for a in ours if counts(a["score"], a["box"])]
    theirs_left = [b for b in theirs if counts(b[1], b[2])]
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
    same_pixels = presized(photos, model.release.size, tmp)
    theirs = reference(tools, model, same_pixels, square=True, tmp=tmp)
    ours = fovea(model, same_pixels)
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
    The same pixels otherwise: measure how far the answers move (printed; a square photo, padded
    alike by both, must not move at all)."""
    same_pixels = presized(ALL_PHOTOS, V5.size, tmp_path)
    stride = reference(tools, v5, same_pixels, square=False, tmp=tmp_path)
    square = reference(tools, v5, same_pixels, square=True, tmp=tmp_path)
    for photo, a, b in zip(ALL_PHOTOS, stride, square, strict=True):
        print(f"{photo}: input {a['input_hw']} vs {b['input_hw']}: " + _moved(a, b))
        if a["size_wh"][0] == a["size_wh"][1]:
            assert a["detections"] == b["detections"]


@full_only()
def test_what_resampling_changes(v5: Imported, tools: Tools, tmp_path: Path) -> None:
    """From the original JPEGs, each pipeline resizes on its own: Pillow's bilinear in Fovea,
    OpenCV's INTER_LINEAR in MegaDetector (square letterbox for both). Measured, printed."""
    theirs = reference(tools, v5, ALL_PHOTOS, square=True, tmp=tmp_path)
    ours = fovea(v5, ALL_PHOTOS)
    for photo, mine, their in zip(ALL_PHOTOS, ours, theirs, strict=True):
        as_reference = {
            "size_wh": their["size_wh"],
            "detections": [
                {
                    "category": str(d["class_id"] + 1),
                    "conf": d["score"],
                    "bbox": d["bbox_norm"],
                }
                for d in mine["detections"]
            ],
        }
        print(f"{photo} {their['size_wh']}: Fovea vs MegaDetector: " + _moved(as_reference, their))


def _moved(a: dict[str, Any], b: dict[str, Any]) -> str:
    """How detections `a` moved from `b`: counts, matches (same class, IoU > 0.5), |conf| and
    corner shifts of the matches; boxes clipped to less than a pixel are left out."""

    def boxes(answer: dict[str, Any]) -> list[tuple[int, float, list[float]]]:
        found = [as_pixels(d, answer["size_wh"]) for d in answer["detections"]]
        return [d for d in found if min(d[2][2] - d[2][0], d[2][3] - d[2][1]) >= 1.0]

    first, second = boxes(a), boxes(b)
    pairs = [(d, m) for d in first if (m := _best(d, second)) is not None]
    conf = [abs(d[1] - m[1]) for d, m in pairs]
    shift = [max(abs(p - q) for p, q in zip(d[2], m[2], strict=True)) for d, m in pairs]
    return (
        f"{len(first)} vs {len(second)} detections, {len(pairs)} matched; |conf diff| max "
        f"{max(conf, default=0):.3f} mean {sum(conf) / max(len(conf), 1):.4f}; corner shift max "
        f"{max(shift, default=0):.1f} px"
    )


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
