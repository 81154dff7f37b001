"""Run by the tests with the tools venv's Python (torch, yolov5, ultralytics, and MegaDetector's own
package on PYTHONPATH); never imported by the test process.

    build ARCH OUT.pt       a MegaDetector-shaped checkpoint of the real architecture, random weights
    reference OUT.pt JSON   MegaDetector's (or PyTorch-Wildlife's) own detector on photos -> JSON
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

CLASSES = ["animal", "person", "vehicle"]


def build(arch: str, out: Path, seed: int = 0) -> None:
    """The architecture MegaDetector uses, 3 classes, random weights; its detection head scaled so
    that scores vary with the image (at random init they are all about the same); saved as the
    releases are: the pickled fp16 network under 'model' (yolov5's classes as `models.*`)."""
    import torch

    torch.manual_seed(seed)
    if arch == "yolov5x6":
        import yolov5.models.yolo as yolo

        model = yolo.DetectionModel(str(Path(yolo.__file__).parent / "hub" / "yolov5x6.yaml"), nc=3)
        model.names = list(CLASSES)
        heads = list(model.model[-1].m)
        _perturb(model, heads, objectness=True, size=320)
        _as_top_level_models(model)
        extra: dict[str, Any] = {"opt": {"imgsz": 1280}}
    else:  # an ultralytics YAML: yolov9c.yaml (MDV6-yolov9-c), yolo11s.yaml (MDv1000-sorrel)
        import ultralytics
        from ultralytics.nn.tasks import DetectionModel

        model = DetectionModel(arch, nc=3, verbose=False)
        model.names = dict(enumerate(CLASSES))
        heads = [branch[-1] for branch in model.model[-1].cv3]
        _perturb(model, heads, objectness=False, size=320)
        extra = {"version": ultralytics.__version__, "train_args": {"imgsz": 640, "model": arch}}
    checkpoint = {
        "epoch": -1,
        "best_fitness": None,
        "model": copy.deepcopy(model).half(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        **extra,
    }
    torch.save(checkpoint, out)


def _perturb(model: Any, heads: list[Any], objectness: bool, size: int) -> None:
    """Rescale each final head conv so its logits have a spread of about 2 over real features."""
    import torch

    inputs: dict[int, Any] = {}
    hooks = [
        head.register_forward_hook(lambda m, a, _o, i=i: inputs.__setitem__(i, a[0]))
        for i, head in enumerate(heads)
    ]
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for i, head in enumerate(heads):
            rms = float(inputs[i].pow(2).mean().sqrt()) or 1.0
            fan_in = head.weight[0].numel()
            std = 2.0 / (rms * math.sqrt(fan_in))
            head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * std)
            bias = torch.zeros_like(head.bias)
            if objectness:  # yolov5 rows per anchor: x, y, w, h, objectness, classes
                bias.view(-1, 5 + len(CLASSES))[:, 4] = -1.5
            else:
                bias -= 2.0
            head.bias.copy_(bias)


def _as_top_level_models(model: Any) -> None:
    """Pickle yolov5's classes as `models.common.Conv` etc., as MegaDetector's files have them
    (trained in the YOLOv5 repository, not from the pip package)."""
    for cls in {type(m) for m in model.modules()}:
        if cls.__module__.startswith("yolov5.models."):
            short = cls.__module__.removeprefix("yolov5.")
            sys.modules.setdefault(short, sys.modules[cls.__module__])
            sys.modules.setdefault("models", sys.modules["yolov5.models"])
            cls.__module__ = short


def reference(weights: Path, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Each photo through the release's own pipeline: MegaDetector's PTDetector ('classic', its
    default) for yolov5 files, ultralytics' predictor (as PyTorch-Wildlife runs MDv6) otherwise.
    `square` forces Fovea's letterbox (a square of the model's size) instead of theirs."""
    square, size, threshold = request["square"], request["size"], request["threshold"]
    if request["family"] == "yolov5":
        return _megadetector(weights, request["photos"], square, size, threshold)
    return _ultralytics(weights, request["photos"], square, size, threshold, request["iou"])


def _megadetector(
    weights: Path, photos: list[str], square: bool, size: int, threshold: float
) -> list[dict[str, Any]]:
    from megadetector.detection import pytorch_detector
    from megadetector.visualization import visualization_utils

    detector = pytorch_detector.PTDetector(str(weights), {"force_cpu": True})
    if square:
        stride_letterbox = pytorch_detector.letterbox

        def square_letterbox(img: Any, new_shape: Any, **options: Any) -> Any:
            return stride_letterbox(img, new_shape=(size, size), **{**options, "auto": False})

        pytorch_detector.letterbox = square_letterbox
    answers = []
    for photo in photos:
        image = visualization_utils.load_image(photo)
        result = detector.generate_detections_one_image(
            image, photo, detection_threshold=threshold, image_size=size
        )
        shape = detector.preprocess_image(image, photo, image_size=size)["img_processed"].shape
        answers.append({**result, "input_hw": list(shape[:2]), "size_wh": list(image.size)})
    return answers


def _ultralytics(
    weights: Path, photos: list[str], square: bool, size: int, threshold: float, iou: float
) -> list[dict[str, Any]]:
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    answers = []
    for photo in photos:
        (result,) = model.predict(
            photo, imgsz=size, conf=threshold, iou=iou, rect=not square, verbose=False
        )
        boxes = result.boxes
        height, width = result.orig_shape
        detections = []
        for xyxy, conf, cls in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist()):
            x1, y1, x2, y2 = xyxy
            bbox = [x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height]
            detections.append({"category": str(int(cls) + 1), "conf": conf, "bbox": bbox})
        answers.append({"file": photo, "detections": detections, "size_wh": [width, height]})
    return answers


def main() -> int:
    command, *args = sys.argv[1:]
    if command == "build":
        build(args[0], Path(args[1]))
    elif command == "reference":
        request = json.loads(Path(args[1]).read_text())
        answers = reference(Path(args[0]), request)
        Path(args[2]).write_text(json.dumps(answers))
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
