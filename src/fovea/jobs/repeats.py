"""Repeat detections (rocks, branches, a logo): the same box, by IoU, in many images of one
camera folder. MegaDetector's repeat-detection elimination, with its defaults: per leaf folder,
detections with conf in [0.1, 1] and area at most 0.2 of the image are matched against known
locations (IoU >= 0.9, same category); a location seen in >= N images is a suspect. The report
is `suspects.json` and a contact sheet PNG per suspect; deleting a sheet rejects that suspect
(it is a real animal after all). Marking negates each suspect detection's conf, once, as
MegaDetector's `remove_repeat_detections` does: every consumer reads it as below threshold."""

from __future__ import annotations

import json
import math
import posixpath
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fovea.formats import BatchDetection, BatchResults, ImageEntry
from fovea.formats._batch import XYWH
from fovea.jobs.images import image_path

REPORT = "suspects.json"
SHEET_TILE = 320  # thumbnail width on a contact sheet
SHEET_TILES = 16  # instances shown per suspect


@dataclass(frozen=True)
class RepeatOptions:
    iou: float = 0.9  # repeat_detections_core iouThreshold
    min_images: int = 20  # occurrenceThreshold
    max_size: float = 0.2  # maxSuspiciousDetectionSize (fraction of the image)
    min_size: float = 0.0
    conf_min: float = 0.1  # confidenceMin
    conf_max: float = 1.0
    levels_from_leaf: int = 0  # nDirLevelsFromLeaf: 0 = the image's own folder is the camera


@dataclass(frozen=True)
class Instance:
    file: str
    category: str
    conf: float
    bbox: XYWH


@dataclass(frozen=True)
class Suspect:
    id: int
    folder: str
    category: str
    bbox: XYWH  # the first instance's box, which later ones were matched against
    instances: tuple[Instance, ...]

    @property
    def images(self) -> int:
        return len({i.file for i in self.instances})

    @property
    def sheet(self) -> str:
        return f"suspect-{self.id:04d}.png"


def camera_of(file: str, levels_from_leaf: int = 0) -> str:
    folder = posixpath.dirname(file.replace("\\", "/"))
    for _ in range(levels_from_leaf):
        folder = posixpath.dirname(folder)
    return folder


def find(results: BatchResults, options: RepeatOptions = RepeatOptions()) -> list[Suspect]:
    by_camera: dict[str, list[ImageEntry]] = defaultdict(list)
    for entry in results.sorted_images():
        if entry.detections and not entry.frames_processed:  # images only, as MD does
            by_camera[camera_of(entry.file, options.levels_from_leaf)].append(entry)
    suspects: list[Suspect] = []
    for camera in sorted(by_camera):
        for first, instances in _locations(by_camera[camera], options):
            suspect = Suspect(len(suspects) + 1, camera, first.category, first.bbox, instances)
            if suspect.images >= options.min_images:
                suspects.append(suspect)
    return suspects


def mark(results: BatchResults, suspects: list[Suspect]) -> BatchResults:
    """Every suspect instance's conf negated (once: a negative conf stays as it is)."""
    flagged = {(i.file, i.category, i.bbox) for s in suspects for i in s.instances}
    images = []
    for entry in results.images:
        if entry.detections:
            dets = tuple(
                replace(d, conf=-d.conf)
                if d.conf > 0 and (entry.file, d.category, d.bbox_xywh) in flagged
                else d
                for d in entry.detections
            )
            entry = replace(entry, detections=dets)
        images.append(entry)
    return results.replace_images(images)


def write_report(
    suspects: list[Suspect], report: Path, images: Path, categories: dict[str, str]
) -> list[Path]:
    """`suspects.json` and a contact sheet per suspect in `report`; the paths written."""
    report.mkdir(parents=True, exist_ok=True)
    written = []
    for suspect in suspects:
        path = report / suspect.sheet
        contact_sheet(suspect, images, categories).save(path)
        written.append(path)
    body = {"suspects": [_suspect_json(s) for s in suspects]}
    (report / REPORT).write_text(json.dumps(body, indent=1))
    return [report / REPORT, *written]


def load_report(report: Path) -> list[Suspect]:
    """The suspects of a report whose contact sheet is still there (deleted = rejected)."""
    body = json.loads((report / REPORT).read_text())
    suspects = [_suspect(item) for item in body["suspects"]]
    return [s for s in suspects if (report / s.sheet).exists()]


def contact_sheet(suspect: Suspect, images: Path, categories: dict[str, str]) -> Image.Image:
    """Up to 16 instances (spread over all of them), each its image with the box drawn."""
    picks = np.linspace(0, len(suspect.instances) - 1, min(SHEET_TILES, len(suspect.instances)))
    shown = [suspect.instances[round(i)] for i in picks]
    columns = min(4, len(shown))
    tiles = [_tile(i, images, categories) for i in shown]
    height = max(t.height for t in tiles)
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * SHEET_TILE, rows * height), (40, 40, 40))
    for n, tile in enumerate(tiles):
        sheet.paste(tile, ((n % columns) * SHEET_TILE, (n // columns) * height))
    return sheet


def _locations(
    entries: list[ImageEntry], options: RepeatOptions
) -> list[tuple[Instance, tuple[Instance, ...]]]:
    firsts: list[Instance] = []
    members: list[list[Instance]] = []
    boxes = np.zeros((0, 4), np.float64)  # each location's first box, x1 y1 x2 y2
    for entry in entries:
        dets = entry.detections or ()
        if max((d.conf for d in dets), default=0.0) < options.conf_min:
            continue
        for det in dets:
            if not _candidate(det, options):
                continue
            instance = Instance(entry.file, det.category, det.conf, det.bbox_xywh)
            matches = [
                n
                for n in np.flatnonzero(_iou(boxes, _xyxy(det.bbox_xywh)) >= options.iou)
                if firsts[n].category == det.category
            ]
            for n in matches:  # a box joins every location it matches, as MD's does
                members[n].append(instance)
            if not matches:
                firsts.append(instance)
                members.append([instance])
                boxes = np.vstack([boxes, _xyxy(det.bbox_xywh)])
    return [(first, tuple(group)) for first, group in zip(firsts, members, strict=True)]


def _candidate(det: BatchDetection, options: RepeatOptions) -> bool:
    _, _, w, h = det.bbox_xywh
    return (
        options.conf_min <= det.conf <= options.conf_max
        and w > 0
        and h > 0
        and options.min_size <= w * h <= options.max_size
    )


def _xyxy(xywh: XYWH) -> np.ndarray:
    x, y, w, h = xywh
    return np.array([x, y, x + w, y + h], np.float64)


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    if not len(boxes):
        return np.zeros(0)
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 2], box[2])
    y2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = areas + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return np.asarray(inter / np.maximum(union, 1e-12))


def _tile(instance: Instance, images: Path, categories: dict[str, str]) -> Image.Image:
    path = image_path(images, ImageEntry(instance.file, ()))
    try:
        assert path is not None
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (OSError, AssertionError, ValueError):
        image = Image.new("RGB", (SHEET_TILE, SHEET_TILE * 3 // 4), (90, 90, 90))
    scale = SHEET_TILE / image.width
    tile = image.resize((SHEET_TILE, max(1, round(image.height * scale))))
    x, y, w, h = instance.bbox
    box = (x * tile.width, y * tile.height, (x + w) * tile.width, (y + h) * tile.height)
    draw = ImageDraw.Draw(tile)
    draw.rectangle(box, outline=(255, 40, 40), width=3)
    label = f"{categories.get(instance.category, instance.category)} {instance.conf:.2f}"
    draw.text((4, 4), f"{posixpath.basename(instance.file)}  {label}", fill=(255, 255, 0))
    return tile


def _suspect_json(suspect: Suspect) -> dict[str, object]:
    body = asdict(suspect)
    body["images"] = suspect.images
    body["sheet"] = suspect.sheet
    return body


def _suspect(item: dict[str, object]) -> Suspect:
    instances = item["instances"]
    assert isinstance(instances, list)
    return Suspect(
        int(item["id"]),  # type: ignore[call-overload]
        str(item["folder"]),
        str(item["category"]),
        tuple(item["bbox"]),  # type: ignore[arg-type]
        tuple(
            Instance(i["file"], i["category"], float(i["conf"]), tuple(i["bbox"]))
            for i in instances
        ),
    )
