"""COCO: `dataset.json` (images, categories, and the detections as annotations with a score),
which pycocotools' `COCO` loads, and `results.json`, COCO's detection results list
(image_id, category_id, bbox in pixels x, y, w, h, score) for `COCO.loadRes`. Failed images are
left out: they have no size and no boxes. A two-stage pipeline's best class of a box (a species,
say) goes in its annotation as `classification` and `classification_score`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fovea.formats._batch import BatchDetection, BatchResults, pixels_xywh

NAME = "coco"
NEEDS_SIZE = True
DESCRIPTION = "COCO dataset.json (pycocotools) and results.json (detection results list)"


def encode(results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]:
    ids = {key: _category_number(key, n) for n, key in enumerate(results.category_ids())}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for entry in results.sorted_images():
        size = entry.size_wh
        if entry.failure is not None or size is None:
            continue
        image_id = len(images) + 1
        images.append(
            {"id": image_id, "file_name": entry.file, "width": size[0], "height": size[1]}
        )
        for det in entry.kept(threshold):
            x, y, w, h = pixels_xywh(det, size)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": ids[det.category],
                    "bbox": [x, y, w, h],
                    "area": round(w * h, 2),
                    "iscrowd": 0,
                    "score": det.conf,
                    **_classification(det, results.classification_categories),
                }
            )
    dataset = {
        "info": {"description": "Fovea detections", **_plain(results.info)},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": ids[key], "name": results.detection_categories[key], "supercategory": "none"}
            for key in results.category_ids()
        ],
    }
    detections = [
        {k: a[k] for k in ("image_id", "category_id", "bbox", "score")} for a in annotations
    ]
    return {
        "dataset.json": json.dumps(dataset, indent=1).encode(),
        "results.json": json.dumps(detections, indent=1).encode(),
    }


def _classification(det: BatchDetection, names: Mapping[str, str]) -> dict[str, Any]:
    if not det.classifications:
        return {}
    category, conf = det.classifications[0]
    return {"classification": names.get(category, category), "classification_score": conf}


def _category_number(key: str, index: int) -> int:
    return int(key) if key.isdigit() else index + 1


def _plain(info: object) -> dict[str, Any]:
    return (
        {k: v for k, v in dict(info).items() if isinstance(v, str)}
        if isinstance(info, dict)
        else {}
    )
