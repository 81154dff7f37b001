"""What ecologists do next with a results file: sort the images into folders by category, and
find (then mark) detections that repeat at one place across a camera's images."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from fovea.cli import app
from fovea.formats import BatchDetection, BatchResults, ImageEntry, megadetector
from fovea.jobs import repeats
from tests.helpers import image_bytes
from tests.jobs.validator import megadetector_problems

runner = CliRunner()
CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
ROCK = (0.1, 0.1, 0.05, 0.05)


def write_results(path: Path, entries: list[ImageEntry]) -> Path:
    info = megadetector.info_of("fovea-test-v1", 0.2, 0.1)
    path.write_bytes(megadetector.dumps(BatchResults(entries, CATEGORIES, info)))
    return path


def det(
    category: str, conf: float, bbox: tuple[float, float, float, float] = (0.2, 0.2, 0.3, 0.3)
) -> BatchDetection:
    return BatchDetection(category, conf, bbox)


@pytest.fixture
def sortable(tmp_path: Path) -> Path:
    images = tmp_path / "traps"
    for name in ("cam/a.jpg", "cam/b.jpg", "cam/c.jpg", "cam/d.jpg", "cam/e.jpg", "cam/f.jpg"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(image_bytes((64, 48)))
    entries = [
        ImageEntry("cam/a.jpg", (det("1", 0.9),)),
        ImageEntry("cam/b.jpg", (det("2", 0.15),)),  # below 0.2: empty
        ImageEntry("cam/c.jpg", (det("3", 0.5), det("1", 0.4))),
        megadetector.failure_entry("cam/d.jpg"),
        ImageEntry("cam/e.jpg", ()),
        ImageEntry("cam/f.jpg", (det("2", 0.7),)),
        ImageEntry("https://example.org/g.jpg", (det("1", 0.9),)),
        ImageEntry("cam/missing.jpg", (det("1", 0.9),)),
    ]
    return write_results(images / "results.json", entries)


def test_sort_dry_run_counts_and_changes_nothing(sortable: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["jobs", "sort", str(sortable), "--into", str(tmp_path / "sorted")])
    assert result.exit_code == 0, result.output
    counts = dict(line.rsplit(maxsplit=1) for line in result.output.splitlines()[:6])
    assert counts == {
        "animal": "1",
        "animal_vehicle": "1",
        "empty": "2",
        "failed": "1",
        "person": "1",
        "(not found, skipped)": "2",
    }
    assert "dry run" in result.output
    assert not (tmp_path / "sorted").exists()


@pytest.mark.parametrize("mode", ["--copy", "--link", "--move"])
def test_sort_copy_link_move(sortable: Path, tmp_path: Path, mode: str) -> None:
    into = tmp_path / "sorted"
    source = sortable.parent / "cam" / "a.jpg"
    original = source.read_bytes()
    result = runner.invoke(
        app, ["jobs", "sort", str(sortable), "--into", str(into), mode, "--threshold", "0.1"]
    )
    assert result.exit_code == 0, result.output
    placed = into / "animal" / "cam" / "a.jpg"
    assert placed.read_bytes() == original
    assert (into / "person" / "cam" / "b.jpg").exists()  # 0.15 counts at 0.1
    assert (into / "failed" / "cam" / "d.jpg").exists()
    assert source.exists() == (mode != "--move")
    if mode == "--link":
        assert placed.stat().st_ino == source.stat().st_ino
    again = runner.invoke(
        app, ["jobs", "sort", str(sortable), "--into", str(into), "--copy", "--threshold", "0.1"]
    )
    assert "copy: 0 images" in again.output or mode == "--move"  # nothing is overwritten


def test_sort_takes_one_mode(sortable: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["jobs", "sort", str(sortable), "--into", str(tmp_path), "--copy", "--move"]
    )
    assert result.exit_code == 2


def planted_repeats(root: Path) -> Path:
    """cam1: a rock (jittered a little) in 25 of 30 images and a fox that moves; cam2: the same
    rock in only 3 images. Images are real files so contact sheets can show them."""
    rng = random.Random(7)
    entries = []
    for camera, count, rocks in (("site/cam1", 30, 25), ("site/cam2", 5, 3)):
        for n in range(count):
            name = f"{camera}/IMG_{n:04d}.JPG"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (400, 300), (90 + n, 120, 60)).save(root / name)
            dets = [det("1", 0.8, (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.6), 0.2, 0.25))]
            if n < rocks:
                jitter = rng.uniform(-0.0005, 0.0005)
                dets.append(
                    det("1", round(0.3 + n / 100, 3), (ROCK[0] + jitter, ROCK[1], ROCK[2], ROCK[3]))
                )
            entries.append(ImageEntry(name, tuple(dets)))
    return write_results(root / "results.json", entries)


def test_repeats_report_contact_sheet_and_apply(tmp_path: Path) -> None:
    results = planted_repeats(tmp_path)
    report = tmp_path / "results-repeats"
    found = runner.invoke(app, ["jobs", "repeats", str(results), "--min-images", "10"])
    assert found.exit_code == 0, found.output
    assert "1 suspects" in found.output
    body = json.loads((report / "suspects.json").read_text())
    (suspect,) = body["suspects"]
    assert (suspect["folder"], suspect["category"], suspect["images"]) == ("site/cam1", "1", 25)
    with Image.open(report / suspect["sheet"]) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == (4 * repeats.SHEET_TILE, 4 * 240)  # 16 tiles of 320x240

    applied = runner.invoke(app, ["jobs", "repeats", str(results), "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "marked 25 detections" in applied.output
    marked = tmp_path / "results-rde.json"
    assert megadetector_problems(marked) == []
    images = json.loads(marked.read_text())["images"]
    negative = [d for i in images for d in i["detections"] if d["conf"] < 0]
    assert len(negative) == 25
    assert all(abs(d["bbox"][0] - ROCK[0]) < 0.001 for d in negative)
    assert all(d["conf"] == 0.8 for i in images for d in i["detections"] if d["bbox"][2] == 0.2)
    # Applying twice never flips a conf back.
    twice = repeats.mark(megadetector.load(marked), repeats.load_report(report))
    assert sum(d.conf < 0 for e in twice.images for d in e.detections or ()) == 25


def test_a_deleted_sheet_rejects_its_suspect(tmp_path: Path) -> None:
    results = planted_repeats(tmp_path)
    report = tmp_path / "report"
    assert (
        runner.invoke(
            app, ["jobs", "repeats", str(results), "--min-images", "10", "--report", str(report)]
        ).exit_code
        == 0
    )
    for sheet in report.glob("*.png"):
        sheet.unlink()  # a person looked: it is a real animal
    out = tmp_path / "kept.json"
    applied = runner.invoke(
        app,
        ["jobs", "repeats", str(results), "--report", str(report), "--apply", "--out", str(out)],
    )
    assert "0 suspects kept" in applied.output
    assert all(
        d["conf"] > 0 for i in json.loads(out.read_text())["images"] for d in i["detections"]
    )


def test_repeats_options_and_missing_images(tmp_path: Path) -> None:
    entries = [ImageEntry(f"cam/{n}.jpg", (det("1", 0.5, ROCK),)) for n in range(4)]
    entries.append(ImageEntry("cam/low.jpg", (det("1", 0.05, ROCK),)))  # below conf_min
    entries.append(ImageEntry("cam/big.jpg", (det("1", 0.5, (0, 0, 0.9, 0.9)),)))  # too large
    results = BatchResults(entries, CATEGORIES)
    (suspect,) = repeats.find(results, repeats.RepeatOptions(min_images=4))
    assert suspect.images == 4
    assert repeats.find(results, repeats.RepeatOptions(min_images=5)) == []
    assert repeats.camera_of("a/b/c/x.jpg", 1) == "a/b"
    sheet = repeats.contact_sheet(suspect, tmp_path / "nowhere", CATEGORIES)  # grey tiles
    assert sheet.size == (4 * repeats.SHEET_TILE, 240)
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert runner.invoke(app, ["jobs", "repeats", str(bad)]).exit_code == 2
