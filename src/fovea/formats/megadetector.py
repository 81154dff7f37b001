"""MegaDetector's batch output format (https://lila.science/megadetector-output-format), as the
`megadetector` package's `write_results_to_file` writes it: format 1.6, images sorted by file,
detections by conf (3 digits), bbox normalised x, y, w, h (4 digits), `failure` with
`detections: null`. `load` reads any such file (or a checkpoint) back into `BatchResults`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fovea.core import Detections
from fovea.formats._batch import BatchDetection, BatchResults, ImageEntry

NAME = "megadetector"
NEEDS_SIZE = False
DESCRIPTION = "MegaDetector batch output (Timelapse, AddaxAI)"
FORMAT_VERSION = "1.6"  # run_detector_batch.current_format_version
CONF_DIGITS, COORD_DIGITS = 3, 4  # run_detector.CONF_DIGITS, COORD_DIGITS
DEFAULT_THRESHOLD = 0.005  # run_detector.DEFAULT_OUTPUT_CONFIDENCE_THRESHOLD
# run_detector's failure strings: tools such as Timelapse match them.
FAILURE_IMAGE_OPEN = "image access failure"
FAILURE_INFER = "inference failure"
# run_detector.DEFAULT_DETECTOR_LABEL_MAP: Timelapse and AddaxAI read "1" as animal.
MEGADETECTOR_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mpeg", ".mpg", ".mov", ".mkv", ".flv")  # video_utils


def category_ids(labels: Sequence[str]) -> list[str]:
    """The category id of each class id. A model whose labels are MegaDetector's own (all of
    them among animal, person, vehicle) gets MegaDetector's fixed ids, so "1" is an animal for
    every camera-trap tool; any other model numbers its labels from "1" in class order, as
    MegaDetector's writer does with a model's native classes ("0" reads as "empty" to some)."""
    by_name = {name: key for key, name in MEGADETECTOR_CATEGORIES.items()}
    if labels and all(label in by_name for label in labels):
        return [by_name[label] for label in labels]
    return [str(i + 1) for i in range(len(labels))]


def detection_categories(labels: Sequence[str]) -> dict[str, str]:
    return dict(zip(category_ids(labels), labels, strict=True))


def entry_of(
    file: str,
    dets: Detections,
    size_wh: tuple[int, int],
    ids: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    taken: str | None = None,
    class_ids: Mapping[str, str] | None = None,
) -> ImageEntry:
    """One image's detections in image pixels -> its entry: kept at `threshold` and above,
    rounded as MegaDetector rounds, best first; with `class_ids` (a second stage's names ->
    classification category ids), each detection's classifications too."""
    width, height = size_wh
    found = []
    for index, (xyxy, score, class_id) in enumerate(
        zip(dets.xyxy.tolist(), dets.score.tolist(), dets.class_id, strict=True)
    ):
        if score < threshold or not 0 <= int(class_id) < len(ids):
            continue
        x1, y1, x2, y2 = (max(0.0, v) for v in xyxy)
        x1, x2 = min(x1, width), min(x2, width)
        y1, y2 = min(y1, height), min(y2, height)
        xywh = (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)
        found.append(
            BatchDetection(
                ids[int(class_id)],
                round(float(score), CONF_DIGITS),
                (*(round(float(v), COORD_DIGITS) for v in xywh),),  # type: ignore[arg-type]
                _classifications(dets, index, class_ids or {}),
            )
        )
    found.sort(key=lambda d: -d.conf)
    return ImageEntry(file, tuple(found), width=width, height=height, datetime=taken)


def _classifications(
    dets: Detections, index: int, class_ids: Mapping[str, str]
) -> tuple[tuple[str, float], ...]:
    """A second stage's (category id, conf) pairs for one detection, best first."""
    names = dets.data.get("class_names")
    if names is None or not class_ids:
        return ()
    scores = dets.data["class_scores"][index]
    pairs = [
        (class_ids[str(name)], round(float(score), CONF_DIGITS))
        for name, score in zip(names[index], scores, strict=True)
        if name and str(name) in class_ids
    ]
    return tuple(sorted(pairs, key=lambda pair: -pair[1]))


def failure_entry(file: str, failure: str = FAILURE_IMAGE_OPEN) -> ImageEntry:
    return ImageEntry(file, None, failure=failure)


def info_of(detector: str, typical: float, conservative: float, **extra: Any) -> dict[str, Any]:
    """MegaDetector's `info` header. `detector` is a name (not an MD weights file), so its
    metadata says `megadetector_version: unknown`, with the thresholds this model suggests."""
    return {
        "format_version": FORMAT_VERSION,
        "detector": detector,
        "detection_completion_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "detector_metadata": {
            "megadetector_version": "unknown",
            "typical_detection_threshold": typical,
            "conservative_detection_threshold": conservative,
            **extra,
        },
    }


def to_json(results: BatchResults) -> dict[str, Any]:
    """The file as a dict, in the writer's key order (images, categories, info)."""
    body: dict[str, Any] = {
        "images": [_image_json(entry) for entry in results.sorted_images()],
        "detection_categories": dict(results.detection_categories),
    }
    if results.classification_categories:
        body["classification_categories"] = dict(results.classification_categories)
    body["info"] = {"format_version": FORMAT_VERSION, **results.info}
    return body


def dumps(results: BatchResults) -> bytes:
    # ct_utils.write_json: indent 1, ASCII only.
    return json.dumps(to_json(results), indent=1, ensure_ascii=True).encode() + b"\n"


def encode(results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]:
    """The registry's entry point: one `results.json`. The threshold is not applied: this is
    the full record, as the job wrote it."""
    return {"results.json": dumps(results)}


def load(source: Path | Mapping[str, Any]) -> BatchResults:
    """A results file, a checkpoint (`{"checkpoint": [...]}` or `{"images": [...]}`), or such a
    dict, as BatchResults. Raises ValueError for anything else."""
    body = json.loads(source.read_text()) if isinstance(source, Path) else source
    if not isinstance(body, Mapping):
        raise ValueError("a MegaDetector results file is a JSON object")
    images = body.get("images", body.get("checkpoint"))
    if not isinstance(images, list):
        raise ValueError("a MegaDetector results file has an `images` list")
    categories = body.get("detection_categories") or {}
    return BatchResults(
        [_entry(item) for item in images],
        {str(k): str(v) for k, v in categories.items()},
        dict(body.get("info") or {}),
        {str(k): str(v) for k, v in (body.get("classification_categories") or {}).items()},
    )


def entry_json(entry: ImageEntry) -> dict[str, Any]:
    """One entry as MegaDetector writes it (what checkpoints and the job store keep)."""
    return _image_json(entry)


def entry_from_json(item: Mapping[str, Any]) -> ImageEntry:
    return _entry(item)


def is_video(file: str) -> bool:
    return file.lower().endswith(VIDEO_EXTENSIONS)


def _image_json(entry: ImageEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"file": entry.file}
    if entry.failure is not None:
        item["failure"] = entry.failure
        item["detections"] = None
    else:
        ranked = sorted(entry.detections or (), key=lambda d: -d.conf)
        item["detections"] = [_detection_json(d) for d in ranked]
    for key in ("width", "height", "datetime", "frame_rate"):
        value = getattr(entry, key)
        if value is not None:
            item[key] = value
    if entry.frames_processed is not None:
        item["frames_processed"] = list(entry.frames_processed)
    return item


def _detection_json(det: BatchDetection) -> dict[str, Any]:
    item: dict[str, Any] = {"category": det.category, "conf": float(det.conf)}
    item["bbox"] = [float(v) for v in det.bbox_xywh]
    if det.classifications:
        item["classifications"] = [[c, float(s)] for c, s in det.classifications]
    if det.frame_number is not None:
        item["frame_number"] = det.frame_number
    return item


def _entry(item: Mapping[str, Any]) -> ImageEntry:
    if not isinstance(item, Mapping) or not isinstance(item.get("file"), str):
        raise ValueError(f"an image entry needs a `file`: {str(item)[:200]}")
    failure = item.get("failure")
    raw = item.get("detections")
    detections = None if failure is not None else tuple(_detection(d) for d in raw or ())
    frames = item.get("frames_processed")
    return ImageEntry(
        item["file"],
        detections,
        failure=None if failure is None else str(failure),
        width=_int_or_none(item.get("width")),
        height=_int_or_none(item.get("height")),
        datetime=item.get("datetime"),
        frame_rate=item.get("frame_rate"),
        frames_processed=None if frames is None else tuple(int(f) for f in frames),
    )


def _detection(item: Mapping[str, Any]) -> BatchDetection:
    x, y, w, h = (float(v) for v in item["bbox"])
    frame = item.get("frame_number")
    return BatchDetection(
        str(item["category"]),
        float(item["conf"]),
        (x, y, w, h),
        tuple((str(c), float(s)) for c, s in item.get("classifications") or ()),
        None if frame is None else int(frame),
    )


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
