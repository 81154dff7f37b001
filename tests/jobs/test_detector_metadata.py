"""A model whose model.toml `[metadata]` names its `detector` file (what `fovea models import
megadetector` writes) is reported in a job's results as MegaDetector reports itself: Timelapse and
AddaxAI pick their thresholds from `info.detector` and `detector_metadata`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from fovea.cli import app
from fovea.jobs.engine import header_of
from tests.jobs.validator import megadetector_problems

BUNDLED = Path(__file__).parents[2] / "src" / "fovea" / "bundled_models"
PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
MD_V5A = """
[metadata]
detector = "md_v5a.0.0.pt"
megadetector_version = "v5a.0.1"
typical_detection_threshold = 0.2
conservative_detection_threshold = 0.05
image_size = 1280
"""


def test_a_job_on_a_model_that_names_its_detector_reports_that_detector(tmp_path: Path) -> None:
    repository = tmp_path / "models"
    for name in ("coco", "coco-camtrap"):
        shutil.copytree(BUNDLED / name, repository / name)
    toml = repository / "coco-camtrap" / "model.toml"
    toml.write_text(toml.read_text() + MD_V5A)
    traps = tmp_path / "traps"
    traps.mkdir()
    shutil.copy(PHOTOS / "horses.jpg", traps / "horses.jpg")
    out = tmp_path / "results.json"
    args = ["jobs", "run", str(traps), "--model", "coco-camtrap", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--repository", str(repository), "--quiet"])
    assert result.exit_code == 0, result.output

    assert megadetector_problems(out, image_root=traps) == []
    info = json.loads(out.read_text())["info"]
    assert info["detector"] == "md_v5a.0.0.pt"
    assert info["detector_metadata"] == {
        "megadetector_version": "v5a.0.1",
        "typical_detection_threshold": 0.2,
        "conservative_detection_threshold": 0.05,
        "image_size": 1280,
        "fovea_model": "coco-camtrap",
        "fovea_version": "1",
    }


def test_without_metadata_the_header_names_the_fovea_model_and_its_thresholds() -> None:
    info = header_of("coco-camtrap", "1", ["animal"], 0.35).info
    assert info["detector"] == "fovea-coco-camtrap-v1"
    assert info["detector_metadata"] == {
        "megadetector_version": "unknown",
        "typical_detection_threshold": 0.35,
        "conservative_detection_threshold": 0.175,
        "fovea_model": "coco-camtrap",
        "fovea_version": "1",
    }
