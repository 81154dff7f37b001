"""A small repository for explanation tests: classifiers with and without an activation output
(one batched, one with a small queue), a planted detector, a segmenter and a two-stage pipeline."""

from __future__ import annotations

from pathlib import Path

from tests import onnx_models
from tests.helpers import DETECT_TOML, write_model, yolov8_output

COLOUR = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
outputs = { output = "logits" }
[input]
size = [32, 32]
resize = "stretch"
"""
CAM = COLOUR + '\n[explain]\nactivation = "features"\n'


def build(root: Path) -> Path:
    scratch = root.parent / (root.name + "-onnx")
    cam = onnx_models.colour_cam_classifier(scratch / "cam.onnx")
    write_model(root, "cam", CAM, {"1": cam})
    batched = "\n[batching]\nmax_batch_size = 4\nmax_queue_delay_ms = 30\n"
    write_model(root, "cam-batched", CAM + batched, {"1": cam})
    write_model(root, "cam-small-queue", CAM + "\n[batching]\nmax_queue = 4\n", {"1": cam})
    write_model(root, "colour", COLOUR, {"1": onnx_models.colour_classifier(scratch / "c.onnx")})
    v8 = onnx_models.planted_model(scratch / "v8.onnx", {"output0": yolov8_output()}, (640, 640))
    write_model(root, "planted", DETECT_TOML.format(decoder="yolov8"), {"1": v8})
    segment = 'task = "segment"\ndecoder = "sigmoid"\nlabels = ["red"]\n[input]\nsize = [64, 64]\n'
    write_model(root, "segmenter", segment, {"1": onnx_models.red_segmenter(scratch / "s.onnx")})
    stages = '[pipeline]\ndetector = "planted"\nclassifier = "colour"\nclassify = ["dog"]\n'
    write_model(root, "two-stage", stages, {})
    return root
