"""Pascal VOC: one `annotations/<image path>.xml` per image (folder, filename, size, and an
`object` per detection with its name and integer pixel `bndbox`, 1-based as VOC's tools
write it). Failed images get none."""

from __future__ import annotations

import math
import posixpath
import xml.etree.ElementTree as ET

from fovea.formats._batch import BatchResults, ImageEntry, safe_relative

NAME = "voc"
NEEDS_SIZE = True
DESCRIPTION = "Pascal VOC annotations/*.xml"


def encode(results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]:
    files = {}
    for entry in results.sorted_images():
        if entry.failure is None and entry.size_wh is not None:
            xml = _document(entry, results, threshold)
            files["annotations/" + safe_relative(entry.file, ".xml")] = xml
    return files


def _document(entry: ImageEntry, results: BatchResults, threshold: float) -> bytes:
    assert entry.size_wh is not None
    width, height = entry.size_wh
    root = ET.Element("annotation")
    folder, name = posixpath.split(entry.file)
    _text(root, "folder", folder)
    _text(root, "filename", name)
    source = ET.SubElement(root, "source")
    _text(source, "database", "Fovea")
    size = ET.SubElement(root, "size")
    for key, value in (("width", width), ("height", height), ("depth", 3)):
        _text(size, key, str(value))
    _text(root, "segmented", "0")
    for det in entry.kept(threshold):
        x, y, w, h = det.bbox_xywh
        obj = ET.SubElement(root, "object")
        _text(obj, "name", results.detection_categories.get(det.category, det.category))
        _text(obj, "pose", "Unspecified")
        _text(obj, "truncated", "0")
        _text(obj, "difficult", "0")
        box = ET.SubElement(obj, "bndbox")
        corners = (
            ("xmin", max(1, math.floor(x * width) + 1)),
            ("ymin", max(1, math.floor(y * height) + 1)),
            ("xmax", min(width, math.ceil((x + w) * width))),
            ("ymax", min(height, math.ceil((y + h) * height))),
        )
        for key, value in corners:
            _text(box, key, str(value))
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text
