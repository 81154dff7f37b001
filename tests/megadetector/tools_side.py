"""Run by the tests with the tools venv's Python (torch, yolov5, ultralytics, and MegaDetector's own
package on PYTHONPATH); never imported by the test process.

    build ARCH OUT.pt PHOTOS  a MegaDetector-shaped checkpoint: the real architecture, random
                              weights, tuned to answer variously on PHOTOS (comma-separated)
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
PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"


def build(arch: str, out: Path, photos: list[str], seed: int = 0) -> None:
    """The architecture MegaDetector uses, 3 classes, random weights; its detection head scaled so
    that scores vary with the image (at random init they are all about the same); saved as the
    releases are: the pickled network under 'model' (yolov5's classes as `models.*`)."""
    import torch

    torch.manual_seed(seed)
    if arch == "yolov5x6":
        import yolov5.models.yolo as yolo

        model = yolo.DetectionModel(str(Path(yolo.__file__).parent / "hub" / "yolov5x6.yaml"), nc=3)
        model.names = list(CLASSES)
        heads = list(model.model[-1].m)
        _perturb(model, heads, objectness=True, photos=_photos(photos, 1280))
        _as_top_level_models(model)
        extra: dict[str, Any] = {"opt": {"imgsz": 1280}}
    else:  # an ultralytics YAML: yolov9c.yaml (MDV6-yolov9-c), yolo11s.yaml (MDv1000-sorrel)
        import ultralytics
        from ultralytics.nn.tasks import DetectionModel

        model = DetectionModel(arch, nc=3, verbose=False)
        model.names = dict(enumerate(CLASSES))
        detect = model.model[-1]
        # Class logits, and the box distributions (so boxes differ in size, not only place).
        heads = [branch[-1] for branch in (*detect.cv3, *detect.cv2)]
        _perturb(model, heads, objectness=False, photos=_photos(photos, 640))
        extra = {"version": ultralytics.__version__, "train_args": {"imgsz": 640, "model": arch}}
    checkpoint = {
        "epoch": -1,
        "best_fitness": None,
        # float32: MegaDetector's files hold float16 (its loader casts to float32), but these
        # heads' weights (up to ~1e11, for features of ~1e-11) overflow float16.
        "model": copy.deepcopy(model).float(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        **extra,
    }
    torch.save(checkpoint, out)


def _perturb(model: Any, heads: list[Any], objectness: bool, photos: Any) -> None:
    """Make a random network answer variously on `photos` (letterboxed to the model's size).

    At random init the features reaching the head are tiny (~1e-5 to 1e-10: each layer shrinks
    them) but still vary over a photo, and the head answers about the same everywhere. Each final
    head conv is replaced by random combinations of the features' 8 main directions of variation
    over the photos, whitened: every output varies over a photo by about 1.2 (objectness and class
    logits around -5, boxes around their anchors), independently of the others, so scores spread
    over 0..1 with a few hundred candidates per photo. (Setting the batch norms to keep activations
    at unit scale instead makes the network chaotic: float32 and float64 PyTorch then differ by
    whole logits, too unstable to compare anything.)
    """
    import torch

    inputs: dict[int, Any] = {}
    hooks = [
        head.register_forward_hook(lambda m, a, _o, i=i: inputs.__setitem__(i, a[0]))
        for i, head in enumerate(heads)
    ]
    model.eval()
    with torch.no_grad():
        model(photos)
    for hook in hooks:
        hook.remove()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for i, head in enumerate(heads):
            features = inputs[i].double()
            mean = features.mean(dim=(0, 2, 3))
            within = features - features.mean(dim=(2, 3), keepdim=True)  # over each photo
            samples = within.transpose(0, 1).flatten(1)  # channels x positions
            variances, directions = torch.linalg.eigh(samples @ samples.T / samples.shape[1])
            main = directions[:, -8:] / variances[-8:].clamp_min(1e-300).sqrt()  # whitening
            mixing = torch.randn(head.out_channels, 8, generator=generator, dtype=torch.float64)
            weight = (mixing * 1.2 / math.sqrt(8)) @ main.T
            bias = torch.zeros(head.out_channels, dtype=torch.float64)
            if objectness:  # yolov5 rows per anchor: x, y, w, h, objectness, classes
                bias.view(-1, 5 + len(CLASSES))[:, 4] = -5.0
            elif head.out_channels == len(CLASSES):  # ultralytics: class logits
                bias -= 5.0
            head.weight.copy_(weight.view(head.weight.shape))
            head.bias.copy_(bias - weight @ mean)


def _photos(names: list[str], size: int) -> Any:
    """Photos, each letterboxed into size x size, as a 0..1 batch."""
    import numpy as np
    import torch
    from PIL import Image

    batch = []
    for name in names:
        image = Image.open(PHOTOS / name).convert("RGB")
        scale = size / max(image.size)
        w, h = round(image.width * scale), round(image.height * scale)
        canvas = Image.new("RGB", (size, size), (114, 114, 114))
        canvas.paste(image.resize((w, h)), ((size - w) // 2, (size - h) // 2))
        batch.append(np.asarray(canvas, np.float32).transpose(2, 0, 1) / 255)
    return torch.from_numpy(np.stack(batch))


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
        rows = zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True)
        for xyxy, conf, cls in rows:
            x1, y1, x2, y2 = xyxy
            bbox = [x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height]
            detections.append({"category": str(int(cls) + 1), "conf": conf, "bbox": bbox})
        answers.append({"file": photo, "detections": detections, "size_wh": [width, height]})
    return answers


def main() -> int:
    command, *args = sys.argv[1:]
    if command == "build":
        build(args[0], Path(args[1]), args[2].split(","))
    elif command == "reference":
        request = json.loads(Path(args[1]).read_text())
        answers = reference(Path(args[0]), request)
        Path(args[2]).write_text(json.dumps(answers))
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
