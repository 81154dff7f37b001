"""Planted-box detectors for inspection tests: every image gets the same boxes, chosen so each
case is exact. In a 640x640 input and a 640x640 image, pixels / 640 are the fractions.

`inspect-test`: chip (0.5, 0.5, 0.2, 0.2) 0.9; screws (0.1, 0.1) and (0.9, 0.1), 0.05 wide,
0.85 and 0.8; cap (0.5, 0.9, 0.1, 0.1) 0.7. `single-test`: the chip alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests import onnx_models
from tests.helpers import write_model

LABELS = ("screw", "chip", "cap")
BOARD = [  # label, cx, cy, w, h (fractions), score
    ("chip", 0.5, 0.5, 0.2, 0.2, 0.9),
    ("screw", 0.1, 0.1, 0.05, 0.05, 0.85),
    ("screw", 0.9, 0.1, 0.05, 0.05, 0.8),
    ("cap", 0.5, 0.9, 0.1, 0.1, 0.7),
]
TOML = """
task = "detect"
decoder = "yolov8"
labels = ["screw", "chip", "cap"]
[input]
size = [640, 640]
"""

# The board as a pattern: every position exactly where the detector puts it.
BOARD_PATTERN = """
model = "inspect-test"
description = "the planted board"
[tolerance]
x = 0.02
y = 0.02
w = 0.02
h = 0.02
[[objects]]
label = "chip"
box = [0.5, 0.5, 0.2, 0.2]
[[objects]]
label = "screw"
box = [0.1, 0.1, 0.05, 0.05]
[[objects]]
label = "screw"
box = [0.9, 0.1, 0.05, 0.05]
[[objects]]
label = "cap"
box = [0.5, 0.9, 0.1, 0.1]
"""


def yolov8_boxes(rows: list[tuple[str, float, float, float, float, float]]) -> np.ndarray:
    """A (1, 4 + C, N) yolov8 output planting `rows` in a 640x640 input."""
    out = np.zeros((len(rows), 4 + len(LABELS)), np.float32)
    for n, (label, cx, cy, w, h, score) in enumerate(rows):
        out[n, :4] = np.array([cx, cy, w, h]) * 640
        out[n, 4 + LABELS.index(label)] = score
    return out.T[None]


def build(root: Path) -> Path:
    """root/models with inspect-test and single-test."""
    models, scratch = root / "models", root / "onnx"
    board = onnx_models.planted_model(
        scratch / "board.onnx", {"output0": yolov8_boxes(BOARD)}, (640, 640)
    )
    single = onnx_models.planted_model(
        scratch / "single.onnx", {"output0": yolov8_boxes(BOARD[:1])}, (640, 640)
    )
    write_model(models, "inspect-test", TOML, {"1": board})
    write_model(models, "single-test", TOML, {"1": single})
    return models


# The board, and a cap at (0.2, 0.9) that the detector never finds.
MISSING_PATTERN = BOARD_PATTERN + '[[objects]]\nlabel = "cap"\nbox = [0.2, 0.9, 0.1, 0.1]\n'
