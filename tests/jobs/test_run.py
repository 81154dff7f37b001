"""`fovea jobs run` and `fovea export` on real photos in a nested camera folder: the output is
what the `megadetector` package's validator accepts, and its COCO export loads in pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea.cli import app
from fovea.core import Detections
from fovea.formats import megadetector
from fovea.jobs.runner import checkpoint_path
from tests import local_http
from tests.jobs.camera import EXPECTED_FILES, nested_folder, planted_folder
from tests.jobs.validator import megadetector_problems
from tests.servers import fovea_server

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, ["jobs", "run", *args, "--quiet"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nested_folder(tmp_path_factory.mktemp("jobs") / "traps")


@pytest.fixture(scope="module")
def results(traps: Path) -> Path:
    out = traps.parent / "results.json"
    run(str(traps), "--model", "coco-camtrap", "--out", str(out))
    return out


def test_the_validator_accepts_the_results_of_a_nested_folder(results: Path, traps: Path) -> None:
    assert megadetector_problems(results, image_root=traps) == []
    body = json.loads(results.read_text())
    images = {i["file"]: i for i in body["images"]}
    assert [i["file"] for i in body["images"]] == EXPECTED_FILES
    assert body["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    for bad in ("cam2/corrupt.jpg", "cam2/zero.jpg"):
        assert images[bad] == {"file": bad, "failure": "image access failure", "detections": None}
    top = {
        f: images[f]["detections"][0]["category"]
        for f in ("cam1/a.jpg", "cam1/night/B.JPG", "cam2/c.jpeg")
    }
    assert top == {
        "cam1/a.jpg": "1",
        "cam1/night/B.JPG": "3",
        "cam2/c.jpeg": "2",
    }  # cat, motorcycle, astronaut
    for item in body["images"]:
        confs = [d["conf"] for d in item["detections"] or []]
        assert confs == sorted(confs, reverse=True)
        assert all(c >= 0.005 and round(c, 3) == c for c in confs)
        assert "width" not in item  # only with --include-image-size, as MegaDetector
    assert not checkpoint_path(results).exists()


def test_coco_export_loads_in_pycocotools(results: Path, traps: Path, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    out = tmp_path / "coco"
    result = runner.invoke(
        app, ["export", str(results), "--to", "coco", "--images", str(traps), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    dataset = COCO(str(out / "dataset.json"))
    names = {
        i["file_name"]: (i["width"], i["height"]) for i in dataset.loadImgs(dataset.getImgIds())
    }
    assert names == {
        "cam1/a.jpg": (451, 300),
        "cam1/night/B.JPG": (741, 500),
        "cam2/c.jpeg": (512, 512),
        "cam2/empty.jpg": (320, 240),
    }
    predicted = dataset.loadRes(str(out / "results.json"))
    assert len(predicted.getAnnIds()) == len(dataset.getAnnIds()) > 3


def test_export_without_sizes_says_where_to_find_the_images(results: Path, tmp_path: Path) -> None:
    moved = tmp_path / "results.json"
    moved.write_bytes(results.read_bytes())
    result = runner.invoke(app, ["export", str(moved), "--to", "voc"])
    assert result.exit_code == 2
    assert "--images" in result.output
    for fmt, name in (("csv", "results-csv.csv"), ("yolo", "results-yolo/classes.txt")):
        assert runner.invoke(app, ["export", str(moved), "--to", fmt]).exit_code == 0
        assert (tmp_path / name).exists()
    assert runner.invoke(app, ["export", str(moved), "--to", "parquet"]).exit_code == 2


def test_sizes_and_exif_dates(traps: Path, tmp_path: Path) -> None:
    out = tmp_path / "sized.json"
    run(
        str(traps / "cam1"),
        "-m",
        "coco-camtrap",
        "-o",
        str(out),
        "--include-image-size",
        "--include-exif-datetime",
    )
    images = {i["file"]: i for i in json.loads(out.read_text())["images"]}
    assert (images["a.jpg"]["width"], images["a.jpg"]["height"]) == (451, 300)
    assert megadetector_problems(out) == []


def test_resume_takes_the_checkpoint_and_runs_only_the_rest(traps: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    # A checkpoint that says a.jpg (a cat) held nothing: a rerun would find the cat.
    done = [
        megadetector.entry_json(megadetector.failure_entry("cam1/a.jpg", "from the checkpoint"))
    ]
    checkpoint_path(out).write_text(json.dumps({"images": done}))
    refused = runner.invoke(app, ["jobs", "run", str(traps), "-m", "coco-camtrap", "-o", str(out)])
    assert refused.exit_code == 2
    assert "--resume" in refused.output
    output = runner.invoke(
        app, ["jobs", "run", str(traps), "-m", "coco-camtrap", "-o", str(out), "--resume"]
    ).output
    assert "1 already done, 5 to run" in output
    images = json.loads(out.read_text())["images"]
    assert [i["file"] for i in images] == EXPECTED_FILES
    assert images[0]["failure"] == "from the checkpoint"
    assert not checkpoint_path(out).exists()


def test_previous_results_run_only_what_they_lack(traps: Path, tmp_path: Path) -> None:
    previous = tmp_path / "previous.json"
    entries = [
        megadetector.entry_json(megadetector.entry_of("cam2/c.jpeg", _nothing(), (10, 10), [])),
        megadetector.entry_json(megadetector.failure_entry("cam1/a.jpg")),  # failed: run again
        megadetector.entry_json(megadetector.failure_entry("elsewhere.jpg")),
    ]
    previous.write_text(json.dumps({"images": entries}))
    out = tmp_path / "out.json"
    run(str(traps), "-m", "coco-camtrap", "-o", str(out), "--previous-results", str(previous))
    images = {i["file"]: i for i in json.loads(out.read_text())["images"]}
    assert list(images) == EXPECTED_FILES
    assert images["cam2/c.jpeg"]["detections"] == []  # kept from the previous file
    assert images["cam1/a.jpg"]["detections"][0]["category"] == "1"


def test_url_list_with_a_failing_url(
    model_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOVEA_URL_ALLOWLIST", "127.0.0.1")
    with local_http.serve() as base:
        listing = tmp_path / "urls.txt"
        listing.write_text(f"{base}/image.jpg\n{base}/missing\n")
        out = tmp_path / "out.json"
        run(str(listing), "-m", "yolov8-test", "-r", str(model_repo), "-o", str(out))
    images = json.loads(out.read_text())["images"]
    assert [i.get("failure") for i in images] == [None, "image access failure"]
    assert [d["category"] for d in images[0]["detections"]] == ["2", "3", "1"]  # dog, person, cat
    assert megadetector_problems(out) == []


def test_against_a_running_server_gives_the_same_file(model_repo: Path, tmp_path: Path) -> None:
    folder = planted_folder(tmp_path / "in", 6)
    (folder / "site" / "broken.jpg").write_bytes(b"nope")
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    run(str(folder), "-m", "yolov8-test", "-r", str(model_repo), "-o", str(here))
    with fovea_server(model_repo, tmp_path) as server:
        run(str(folder), "-m", "yolov8-test", "-o", str(there), "--server", server.url)
    mine, theirs = json.loads(here.read_text()), json.loads(there.read_text())
    # The API gives boxes to 0.01 px: the 4th digit of a normalised coordinate may differ.
    for a, b in zip(mine["images"], theirs["images"], strict=True):
        assert a["file"] == b["file"]
        for da, db in zip(a["detections"] or [], b["detections"] or [], strict=True):
            assert (da["category"], da["conf"]) == (db["category"], db["conf"])
            assert da["bbox"] == pytest.approx(db["bbox"], abs=1.5e-4)
    assert [i.get("failure") for i in mine["images"]] == [
        i.get("failure") for i in theirs["images"]
    ]
    assert (
        mine["detection_categories"]
        == theirs["detection_categories"]
        == {"1": "cat", "2": "dog", "3": "person"}
    )
    assert mine["images"][0] == {
        "file": "site/broken.jpg",
        "failure": "image access failure",
        "detections": None,
    }


def test_unknown_model_and_bad_source(model_repo: Path, tmp_path: Path) -> None:
    folder = planted_folder(tmp_path, 1)
    missing = runner.invoke(
        app,
        [
            "jobs",
            "run",
            str(folder),
            "-m",
            "nope",
            "-r",
            str(model_repo),
            "-o",
            str(tmp_path / "o.json"),
        ],
    )
    assert missing.exit_code == 1
    assert "no model named 'nope'" in missing.output
    classifier = runner.invoke(
        app,
        [
            "jobs",
            "run",
            str(folder),
            "-m",
            "colour-test",
            "-r",
            str(model_repo),
            "-o",
            str(tmp_path / "o.json"),
        ],
    )
    assert classifier.exit_code == 1
    assert "jobs need a detector" in classifier.output
    listing = tmp_path / "list.json"
    listing.write_text("{")
    assert (
        runner.invoke(
            app, ["jobs", "run", str(listing), "-m", "x", "-o", str(tmp_path / "o.json")]
        ).exit_code
        == 2
    )


def _nothing() -> Detections:
    return Detections.empty()
