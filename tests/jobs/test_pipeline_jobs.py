"""A job with a two-stage pipeline (camtrap-species) writes MegaDetector's classification fields
exactly, the validator accepts them, and the COCO and CSV exports carry the species."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea.cli import app
from tests.jobs.validator import megadetector_problems

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
runner = CliRunner()


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("species") / "traps"
    (root / "cam1").mkdir(parents=True)
    for photo in ("chelsea.jpg", "horses.jpg", "astronaut.jpg"):
        shutil.copy(PHOTOS / photo, root / "cam1" / photo)
    return root


@pytest.fixture(scope="module")
def results(traps: Path) -> Path:
    out = traps.parent / "results.json"
    args = ["jobs", "run", str(traps), "--model", "camtrap-species", "--out", str(out)]
    result = runner.invoke(app, [*args, "--threshold", "0.2", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_classifications_are_written_as_megadetector_writes_them(
    results: Path, traps: Path
) -> None:
    assert megadetector_problems(results, image_root=traps) == []
    body = json.loads(results.read_text())
    names = body["classification_categories"]
    assert "cat" in names.values()
    assert names[max(names, key=int)] == "unknown animal"  # the unknown label comes last
    assert body["info"]["classifier"] == "fovea-imagenet"
    assert body["info"]["classifier_metadata"]["fovea_pipeline"] == "camtrap-species"
    images = {i["file"]: i for i in body["images"]}
    [cat] = [d for d in images["cam1/chelsea.jpg"]["detections"] if d["category"] == "1"]
    best_id, best_conf = cat["classifications"][0]
    assert names[best_id] == "cat"
    assert isinstance(best_conf, float)
    confs = [c for _, c in cat["classifications"]]
    assert confs == sorted(confs, reverse=True)
    for item in body["images"]:
        for d in item["detections"]:
            assert ("classifications" in d) == (d["category"] == "1")  # animals only


def test_coco_and_csv_exports_carry_the_species(results: Path, traps: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for to in ("coco", "csv"):
        args = ["export", str(results), "--to", to, "--images", str(traps), "--out", str(out / to)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    dataset = json.loads((out / "coco" / "dataset.json").read_text())
    assert "cat" in {a.get("classification") for a in dataset["annotations"]}
    rows = list(csv.DictReader(io.StringIO((out / "csv").read_text())))  # one file
    assert "cat" in {row["classification"] for row in rows}
