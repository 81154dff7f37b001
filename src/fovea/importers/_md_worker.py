"""Runs inside the tools venv (never imported by Fovea): load a MegaDetector checkpoint as
MegaDetector does, export it to ONNX with its own package (yolov5's export.py, or ultralytics'
exporter), check the graph against PyTorch, and write a JSON report for the importer.

    python _md_worker.py --weights W --family yolov5 --image-size 1280 --out M.onnx --report R
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

MEGADETECTOR_CLASSES = ["animal", "person", "vehicle"]


class Refused(Exception):
    """The checkpoint is not one this importer can take; the message says why."""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--family", choices=["yolov5", "ultralytics"], required=True)
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        report = export(args.weights, args.family, args.image_size, args.out)
        if not args.no_verify:
            report["verify"] = verify(args.weights, args.family, args.image_size, args.out)
        report["seconds"] = round(time.monotonic() - started, 1)
        code = 0
    except Refused as exc:
        report, code = {"error": str(exc)}, 2
    except Exception as exc:  # the importer shows this, with the log
        traceback.print_exc()
        report, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    args.report.write_text(json.dumps(report, indent=1))
    return code


def load(weights: Path) -> Any:
    """The network, as MegaDetector loads it: checkpoint['model'], float32, fused, eval mode."""
    import torch

    # MegaDetector's files were pickled in the YOLOv5 repository, as `models.yolo.DetectionModel`,
    # `models.common.Conv`, ...: resolve those names to the yolov5 package's own modules (not
    # fresh copies from its folder, whose classes export.py would not recognise).
    import yolov5.models.experimental
    import yolov5.models.yolo  # noqa: F401

    for name, module in list(sys.modules.items()):
        if name == "yolov5.models" or name.startswith(("yolov5.models.", "yolov5.utils")):
            sys.modules.setdefault(name.removeprefix("yolov5."), module)

    try:
        checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise Refused(f"PyTorch cannot read it ({type(exc).__name__}: {exc})") from exc
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), torch.nn.Module):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise Refused(
            "expected a dict holding the pickled network under 'model', as MegaDetector's "
            f"releases are saved; found {found}"
        )
    model = checkpoint["model"]
    names = getattr(model, "names", None)
    labels = list(names.values()) if isinstance(names, dict) else list(names or [])
    if labels != MEGADETECTOR_CLASSES:
        raise Refused(
            f"its classes are {labels}; MegaDetector's are {MEGADETECTOR_CLASSES} (ids 1, 2, 3)"
        )
    for module in model.modules():  # yolov5's attempt_load does this for older files
        if type(module) is torch.nn.Upsample and not hasattr(module, "recompute_scale_factor"):
            module.recompute_scale_factor = None
    return model.float().fuse().eval()


def export(weights: Path, family: str, size: int, out: Path) -> dict[str, Any]:
    import onnx
    import torch

    model = load(weights)
    stride = int(max(model.stride))
    if size % stride:
        raise Refused(f"input size {size} is not a multiple of the network's stride {stride}")
    if family == "yolov5":
        _export_yolov5(model, size, out)
    else:
        _export_ultralytics(weights, size, out)
    graph = onnx.load(str(out), load_external_data=False)
    output = graph.graph.output[0]
    dims = [d.dim_value or d.dim_param for d in output.type.tensor_type.shape.dim]
    versions = {"torch": torch.__version__, "onnx": onnx.__version__}
    for package in ("yolov5", "ultralytics"):
        versions[package] = _version(package)
    return {
        "input_name": graph.graph.input[0].name,
        "output_name": output.name,
        "output_shape": dims,
        "stride": stride,
        "head": type(_head(model)).__name__,
        "labels": MEGADETECTOR_CLASSES,
        "versions": versions,
    }


def _export_yolov5(model: Any, size: int, out: Path) -> None:
    import torch
    from yolov5 import export as yolov5_export
    from yolov5.models.yolo import Detect

    for module in model.modules():  # what export.py's run() sets before exporting
        if isinstance(module, Detect):
            module.inplace, module.dynamic, module.export = True, True, True
    image = torch.zeros(1, 3, size, size)
    # torch >= 2.9 exports with dynamo by default; export.py was written for the TorchScript
    # exporter, so keep that one (as tools/convert_models does for its PyTorch models).
    original = torch.onnx.export
    torch.onnx.export = functools.partial(original, dynamo=False)
    try:
        with torch.no_grad():
            written, _ = yolov5_export.export_onnx(model, image, out, 17, True, False)
    finally:
        torch.onnx.export = original
    if Path(written) != out:
        os.replace(written, out)


def _export_ultralytics(weights: Path, size: int, out: Path) -> None:
    from ultralytics import YOLO

    # The exporter writes beside its input: give it a link in the output folder.
    link = out.with_name("checkpoint.pt")
    link.symlink_to(weights.absolute())
    try:
        written = YOLO(str(link), task="detect").export(
            format="onnx", imgsz=size, dynamic=True, simplify=False, opset=17, batch=1
        )
    finally:
        link.unlink()
    os.replace(written, out)


def verify(weights: Path, family: str, size: int, out: Path) -> dict[str, float]:
    """ONNX Runtime against PyTorch on a real photo (yolov5's bus.jpg, letterboxed to the exported
    size as MegaDetector's input is): max |difference| over the raw output."""
    import numpy as np
    import onnxruntime
    import torch
    import yolov5
    from PIL import Image

    model = load(weights)
    photo = Image.open(Path(yolov5.__file__).parent / "data" / "images" / "bus.jpg").convert("RGB")
    scale = size / max(photo.size)
    resized = photo.resize((round(photo.width * scale), round(photo.height * scale)))
    canvas = Image.new("RGB", (size, size), (114, 114, 114))
    canvas.paste(resized, ((size - resized.width) // 2, (size - resized.height) // 2))
    x = (np.asarray(canvas, np.float32).transpose(2, 0, 1)[None] / 255).copy()
    with torch.no_grad():
        reference = model(torch.from_numpy(x))
    while isinstance(reference, (list, tuple)):
        reference = reference[0]
    expected = reference.numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    if got.shape != expected.shape:
        raise RuntimeError(f"ONNX output {got.shape} != PyTorch output {expected.shape}")
    diff = float(np.abs(got - expected).max())
    scale = float(np.abs(expected).max())
    if not np.isfinite(expected).all():
        raise Refused("PyTorch's own output has NaN or infinite values: the weights are broken")
    if not diff <= 1e-3 + 1e-4 * scale:  # NaN fails too
        raise RuntimeError(
            f"ONNX Runtime differs from PyTorch by {diff:g} (outputs up to {scale:g})"
        )
    return {"max_abs_diff": diff, "max_abs_output": scale}


def _head(model: Any) -> Any:
    return model.model[-1]


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
