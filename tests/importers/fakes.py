"""Stand-ins for the torch side of a MegaDetector import, so the importer's own logic (reading the
checkpoint, naming the release, writing the folder atomically) is tested without PyTorch.

A fake checkpoint is a zip laid out as torch.save writes one, whose data.pkl holds only the pickle
opcodes the importer reads (class references). The fake worker takes the real worker's arguments
and writes a small ONNX graph with planted yolov5-style detections, and the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

YOLOV5 = [("models.yolo", "DetectionModel"), ("models.common", "Conv"), ("models.yolo", "Detect")]
ULTRALYTICS = [
    ("ultralytics.nn.tasks", "DetectionModel"),
    ("ultralytics.nn.modules.head", "Detect"),
]


def fake_checkpoint(
    path: Path,
    classes: list[tuple[str, str]],
    md_info: dict[str, object] | None = None,
    stack_global: bool = False,
) -> Path:
    """A zip as torch.save writes it (one root folder, data.pkl) referencing `classes`."""
    pickle = bytearray(b"\x80\x02}q\x00(")  # PROTO 2, EMPTY_DICT, MARK
    for module, name in classes:
        if stack_global:  # protocol 4 style: two strings, then STACK_GLOBAL
            for text in (module, name):
                data = text.encode()
                pickle += b"\x8c" + bytes([len(data)]) + data
            pickle += b"\x93"
        else:
            pickle += b"c" + f"{module}\n{name}\n".encode()
    pickle += b"u."  # SETITEMS, STOP
    root = path.stem
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{root}/data.pkl", bytes(pickle))
        archive.writestr(f"{root}/version", "3\n")
        archive.writestr(f"{root}/data/0", b"\0" * 64)
        if md_info is not None:
            archive.writestr(f"{root}/megadetector_info.json", json.dumps(md_info))
    return path


def main() -> int:
    """The fake worker; a checkpoint named *crash* or *refuse* makes it fail as the real one can."""
    parser = argparse.ArgumentParser()
    for option in ("--weights", "--family", "--image-size", "--out", "--report"):
        parser.add_argument(option, required=True)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    report = Path(args.report)
    if "crash" in Path(args.weights).name:
        print("Traceback: something deep inside PyTorch broke", file=sys.stderr)
        return 1
    if "refuse" in Path(args.weights).name:
        report.write_text(json.dumps({"error": "its classes are ['cat']; MegaDetector's are ..."}))
        return 2
    sys.path.insert(0, str(Path(__file__).parents[2]))
    from tests.helpers import yolov5_output
    from tests.onnx_models import planted_model

    size = int(args.image_size)
    rows = yolov5_output()
    rows = np.concatenate([rows[..., :5], rows[..., 5:8]], axis=-1)  # three classes
    planted_model(Path(args.out), {"output0": rows}, (size, size))
    result = {
        "input_name": "images",
        "output_name": "output0",
        "output_shape": ["batch", rows.shape[1], rows.shape[2]],
        "stride": 64,
        "head": "Detect",
        "labels": ["animal", "person", "vehicle"],
        "versions": {"torch": "0.fake", "onnx": "0.fake", "yolov5": "7.0.14", "ultralytics": None},
    }
    if not args.no_verify:
        result["verify"] = {"max_abs_diff": 1.5e-5, "max_abs_output": 640.0}
    report.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
