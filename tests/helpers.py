"""Builders shared by the tests: encoded images and a synthetic model repository."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from fovea.core import Detections
from fovea.models import ModelSpec, Repository, ServedModel, load_spec
from tests import onnx_models

# Planted in a 640x640 letterboxed input, cx, cy, w, h. On a 1000x600 image (scale 0.64,
# padding 128 above) box 0 is (312.5, 112.5, 625, 425); on 600x1000 (padding 128 left) it is
# (112.5, 312.5, 425, 625).
PLANTED_CXCYWH = np.array(
    [
        [300, 300, 200, 200],  # dog 0.9
        [305, 300, 200, 200],  # dog 0.85: overlaps box 0, NMS drops it
        [500, 500, 100, 60],  # person 0.8
        [100, 100, 50, 50],  # cat 0.1: below any sensible threshold
    ],
    np.float32,
)
PLANTED_CLASS = np.array([1, 1, 2, 0])
PLANTED_SCORE = np.array([0.9, 0.85, 0.8, 0.1], np.float32)
LABELS = ("cat", "dog", "person")


def image_bytes(
    size_wh: tuple[int, int],
    colour: tuple[int, int, int] = (90, 120, 150),
    fmt: str = "JPEG",
    mode: str = "RGB",
    **save: object,
) -> bytes:
    image = Image.new(mode, size_wh, colour if mode == "RGB" else None)
    if mode != "RGB" and mode != "P":
        image = Image.new("RGB", size_wh, colour).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str = "PNG", **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def make_detections(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    """Detections from (x1, y1, x2, y2, score, class_id) rows."""
    array = np.array(rows, np.float32).reshape(-1, 6)
    return Detections.build(array[:, :4], array[:, 4], array[:, 5].astype(np.int64))


def yolov8_output() -> np.ndarray:
    scores = np.zeros((len(PLANTED_CXCYWH), len(LABELS)), np.float32)
    scores[np.arange(len(scores)), PLANTED_CLASS] = PLANTED_SCORE
    return np.concatenate([PLANTED_CXCYWH, scores], axis=1).T[None]  # (1, 4 + C, N)


def yolov5_output() -> np.ndarray:
    # objectness 1.0 except the person row, split as 0.8 = objectness 1.0 x class 0.8
    rows = np.zeros((len(PLANTED_CXCYWH), 5 + len(LABELS)), np.float32)
    rows[:, :4] = PLANTED_CXCYWH
    rows[:, 4] = 1.0
    rows[np.arange(len(rows)), 5 + PLANTED_CLASS] = PLANTED_SCORE
    return rows[None]  # (1, N, 5 + C)


def write_model(root: Path, name: str, toml: str, versions: dict[str, Path | None]) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.toml").write_text(toml)
    for version, source in versions.items():
        if source is not None:
            (folder / version).mkdir(exist_ok=True)
            (folder / version / "model.onnx").write_bytes(source.read_bytes())
    return folder


DETECT_TOML = """
task = "detect"
decoder = "{decoder}"
labels = ["cat", "dog", "person"]
[input]
size = [640, 640]
[postprocess]
score_threshold = 0.25
"""


def build_repository(root: Path) -> Path:
    """A repository of every kind of test model, plus two broken ones."""
    scratch = root.parent / (root.name + "-onnx")
    v8 = onnx_models.planted_model(scratch / "v8.onnx", {"output0": yolov8_output()}, (640, 640))
    v5 = onnx_models.planted_model(
        scratch / "v5.onnx", {"output": yolov5_output()}, (640, 640), dynamic=False
    )
    v8_empty = onnx_models.planted_model(
        scratch / "v8-empty.onnx", {"output0": np.zeros((1, 7, 5), np.float32)}, (640, 640)
    )
    write_model(root, "yolov8-test", DETECT_TOML.format(decoder="yolov8"), {"1": v8_empty, "2": v8})
    megadetector_like = (
        '\n[metadata]\ndetector = "md_v5a.0.0.pt"\ntypical_detection_threshold = 0.2\n'
    )
    write_model(
        root, "yolov5-test", DETECT_TOML.format(decoder="yolov5") + megadetector_like, {"1": v5}
    )
    camtrap = DETECT_TOML.format(decoder="yolov8").replace(
        "[input]", 'versions_dir = "../yolov8-test"\nversion = "2"\n[input]'
    )
    write_model(
        root,
        "camtrap-test",
        camtrap
        + """
[class_map]
cat = "animal"
dog = "animal"
person = "human"
""",
        {},
    )
    slow = onnx_models.slow_planted_model(
        scratch / "slow.onnx", {"output0": yolov8_output()}, (640, 640), layers=16
    )
    overload = DETECT_TOML.format(decoder="yolov8") + "\n[batching]\nmax_queue = 2\n"
    write_model(root, "overload-test", overload, {"1": slow})
    write_model(
        root,
        "colour-test",
        """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
[input]
size = [32, 32]
resize = "stretch"
""",
        {"1": onnx_models.colour_classifier(scratch / "cls.onnx")},
    )
    batched = "\n[batching]\nmax_batch_size = 4\nmax_queue_delay_ms = 30\n"
    write_model(
        root,
        "colour-batched",
        (root / "colour-test" / "model.toml").read_text() + batched,
        {"1": onnx_models.colour_classifier(scratch / "cls.onnx")},
    )
    write_model(
        root,
        "red-test",
        """
task = "segment"
decoder = "sigmoid"
labels = ["red"]
[input]
size = [64, 64]
""",
        {"1": onnx_models.red_segmenter(scratch / "seg.onnx")},
    )
    write_model(
        root,
        "channel-test",
        """
task = "segment"
decoder = "argmax"
labels = ["red", "green", "blue"]
[input]
size = [64, 64]
resize = "stretch"
""",
        {"1": onnx_models.channel_segmenter(scratch / "argmax.onnx")},
    )
    write_model(
        root,
        "channel-batched",
        (root / "channel-test" / "model.toml").read_text() + batched,
        {"1": onnx_models.channel_segmenter(scratch / "argmax.onnx")},
    )
    # Two stages: the planted dog and person boxes, each classified by its colour.
    pipeline = """
description = "planted boxes, then their colour"
[pipeline]
detector = "yolov8-test"
classifier = "colour-test"
classify = ["dog"]
top_k = 2
[pipeline.crop]
padding = 0.0
min_size = 8
[pipeline.label_map]
red = "warm"
green = "cool"
blue = "cool"
"""
    write_model(root, "pipeline-test", pipeline, {})
    missing_stage = pipeline.replace('classifier = "colour-test"', 'classifier = "nope"')
    write_model(root, "pipeline-broken", missing_stage, {})
    write_model(root, "broken-toml", 'task = "detect"\ndecoder = "yolov9"\n', {"1": v8})
    broken = write_model(root, "broken-onnx", DETECT_TOML.format(decoder="yolov8"), {})
    (broken / "1").mkdir()
    (broken / "1" / "model.onnx").write_bytes(b"this is not an onnx file")
    return root


def single(repository: Repository, name: str, version: str | None = None) -> ServedModel:
    """A one-stage model of the repository (not a pipeline), typed as such."""
    model = repository.get(name, version)
    assert isinstance(model, ServedModel), f"{name} is a pipeline"
    return model


def model_spec(folder: Path) -> ModelSpec:
    spec = load_spec(folder)
    assert isinstance(spec, ModelSpec), f"{folder} declares a pipeline"
    return spec
