"""Every format from one batch: MegaDetector's (checked by the megadetector package's own
validator), COCO (loaded by pycocotools), YOLO, Pascal VOC and CSV."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fovea import formats
from fovea.core import Detections
from fovea.errors import InvalidParameter
from fovea.formats import BatchDetection, BatchResults, ImageEntry, megadetector
from tests.jobs.validator import megadetector_problems

CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}


def batch() -> BatchResults:
    """An animal and a person, an empty image, a failure, a video and a classified detection,
    out of order on purpose."""
    person = BatchDetection("2", 0.9, (0.5, 0.5, 0.25, 0.5))
    animal = BatchDetection("1", 0.31, (0.1, 0.2, 0.3, 0.4), (("7", 0.8), ("3", 0.1)))
    return BatchResults(
        [
            ImageEntry("b/2.jpg", (), width=640, height=480),
            ImageEntry("a/1.jpg", (person, animal), width=1000, height=500),
            megadetector.failure_entry("a/bad.jpg"),
            ImageEntry(
                "v/clip.mp4",
                (BatchDetection("1", 0.5, (0.1, 0.1, 0.1, 0.1), frame_number=30),),
                width=320,
                height=240,
                frame_rate=30.0,
                frames_processed=(0, 30),
            ),
        ],
        CATEGORIES,
        megadetector.info_of("fovea-test-v1", 0.2, 0.1),
        {"3": "fox", "7": "deer"},
    )


def test_megadetector_file_is_what_megadetectors_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(megadetector.dumps(batch()))
    assert megadetector_problems(path) == []
    body = json.loads(path.read_text())
    assert list(body) == ["images", "detection_categories", "classification_categories", "info"]
    assert [i["file"] for i in body["images"]] == ["a/1.jpg", "a/bad.jpg", "b/2.jpg", "v/clip.mp4"]
    first = body["images"][0]
    assert [d["conf"] for d in first["detections"]] == [0.9, 0.31]  # best first
    assert first["detections"][1]["classifications"] == [["7", 0.8], ["3", 0.1]]
    assert body["images"][1] == {
        "file": "a/bad.jpg",
        "failure": "image access failure",
        "detections": None,
    }
    assert body["images"][2]["detections"] == []
    assert body["images"][3]["frames_processed"] == [0, 30]
    assert body["images"][3]["detections"][0]["frame_number"] == 30
    assert body["info"]["format_version"] == "1.6"
    assert body["info"]["detector_metadata"]["typical_detection_threshold"] == 0.2
    assert path.read_text().isascii()


def test_megadetector_round_trip() -> None:
    original = batch()
    again = megadetector.load(json.loads(megadetector.dumps(original)))
    assert sorted(again.images, key=lambda e: e.file) == original.sorted_images()
    assert again.classification_categories == original.classification_categories
    checkpoint = {"checkpoint": [megadetector.entry_json(e) for e in original.images]}
    assert len(megadetector.load(checkpoint).images) == 4


@pytest.mark.parametrize("body", [[], {"images": 3}, {"images": [{"nofile": 1}]}])
def test_megadetector_load_refuses_other_json(body: object) -> None:
    with pytest.raises(ValueError, match=r"MegaDetector|file"):
        megadetector.load(body)  # type: ignore[arg-type]


def test_entry_of_rounds_sorts_thresholds_and_numbers_categories() -> None:
    dets = Detections.build(
        [[10, 20, 110, 70], [0, 0, 50, 50], [-5, 0, 205, 100], [1, 1, 2, 2]],
        [0.41234, 0.0049, 0.95678, 0.6],
        [0, 1, 2, 7],
        ("animal", "person", "vehicle"),
    )
    ids = megadetector.category_ids(dets.labels)
    entry = megadetector.entry_of("x.jpg", dets, (200, 100), ids)
    assert [(d.category, d.conf) for d in entry.detections or ()] == [("3", 0.957), ("1", 0.412)]
    assert (entry.detections or ())[0].bbox_xywh == (0.0, 0.0, 1.0, 1.0)  # clipped to the image
    assert (entry.detections or ())[1].bbox_xywh == (0.05, 0.2, 0.5, 0.5)
    assert all(isinstance(d.conf, float) for d in entry.detections or ())


@pytest.mark.parametrize(
    ("labels", "ids"),
    [
        (("animal", "person", "vehicle"), ["1", "2", "3"]),
        (("person", "animal"), ["2", "1"]),  # MegaDetector's own ids, whatever the order
        (("cat", "dog", "person"), ["1", "2", "3"]),
        ((), []),
    ],
)
def test_category_ids(labels: tuple[str, ...], ids: list[str]) -> None:
    assert megadetector.category_ids(labels) == ids


def test_coco_loads_in_pycocotools(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    files = formats.export(batch(), "coco")
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    dataset = COCO(str(tmp_path / "dataset.json"))
    assert sorted(c["name"] for c in dataset.loadCats(dataset.getCatIds())) == [
        "animal",
        "person",
        "vehicle",
    ]
    assert len(dataset.getImgIds()) == 3  # the failure has no size and no boxes
    first = dataset.loadImgs(1)[0]
    assert (first["file_name"], first["width"], first["height"]) == ("a/1.jpg", 1000, 500)
    anns = dataset.loadAnns(dataset.getAnnIds(imgIds=[1]))
    assert [a["bbox"] for a in anns] == [[500.0, 250.0, 250.0, 250.0], [100.0, 100.0, 300.0, 200.0]]
    predicted = dataset.loadRes(str(tmp_path / "results.json"))
    assert len(predicted.getAnnIds()) == 3
    assert {a["score"] for a in predicted.loadAnns(predicted.getAnnIds(imgIds=[1]))} == {0.31, 0.9}


def test_yolo_labels_and_classes() -> None:
    files = formats.export(batch(), "yolo", threshold=0.5)
    assert files["classes.txt"] == b"animal\nperson\nvehicle\n"
    assert files["labels/a/1.txt"] == b"1 0.625000 0.750000 0.250000 0.500000 0.900000\n"
    assert files["labels/b/2.txt"] == b""  # processed, nothing found
    assert "labels/a/bad.txt" not in files


def test_voc_xml() -> None:
    files = formats.export(batch(), "voc")
    root = ET.fromstring(files["annotations/a/1.xml"])
    assert root.findtext("filename") == "1.jpg"
    assert root.findtext("size/width") == "1000"
    names = [o.findtext("name") for o in root.iter("object")]
    assert names == ["person", "animal"]
    box = root.find("object/bndbox")
    assert box is not None
    assert [box.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")] == [
        "501",
        "251",
        "750",
        "500",
    ]


def test_csv_rows() -> None:
    body = formats.export(batch(), "csv")["results.csv"].decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["file"], r["label"], r["failure"]) for r in rows] == [
        ("a/1.jpg", "person", ""),
        ("a/1.jpg", "animal", ""),
        ("a/bad.jpg", "", "image access failure"),
        ("b/2.jpg", "", ""),
        ("v/clip.mp4", "animal", ""),
    ]
    assert (rows[1]["classification"], rows[1]["classification_conf"]) == ("deer", "0.8")


def test_export_errors_and_bundles() -> None:
    with pytest.raises(InvalidParameter, match="unknown format"):
        formats.export(batch(), "parquet")
    unsized = batch().replace_images([ImageEntry("a.jpg", ())])
    with pytest.raises(InvalidParameter, match="width and height"):
        formats.export(unsized, "coco")
    body, media, name = formats.bundle(formats.export(batch(), "voc"), "job")
    assert (media, name) == ("application/zip", "job.zip")
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist())[0] == "annotations/a/1.xml"
    assert formats.bundle({"results.csv": b"x"}, "job") == (b"x", "text/csv", "results.csv")


def test_negative_conf_from_repeats_is_below_every_threshold() -> None:
    marked = BatchDetection("1", -0.8, (0.1, 0.1, 0.1, 0.1))
    results = BatchResults([ImageEntry("a.jpg", (marked,), width=10, height=10)], CATEGORIES)
    assert formats.export(results, "yolo")["labels/a.txt"] == b""
    assert json.loads(formats.export(results, "coco")["results.json"]) == []
    assert np.isclose(
        json.loads(megadetector.dumps(results))["images"][0]["detections"][0]["conf"], -0.8
    )
