"""`fovea models quantize`: an int8 version next to the fp32 one, which serves and agrees."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from fovea.bench.agreement import agreement
from fovea.cli import app
from fovea.core import Classes
from fovea.models import BUNDLED, Repository, ServedModel
from tests.helpers import image_bytes

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def test_quantize_writes_the_next_version_and_reports_agreement(
    model_repo: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "models"
    shutil.copytree(model_repo / "colour-test", repository / "colour-test")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, colour in enumerate([(250, 10, 10), (10, 250, 10), (10, 10, 250), (120, 60, 30)]):
        (photos / f"{i}.jpg").write_bytes(image_bytes((64, 48), colour))
    (photos / "notes.txt").write_text("not an image")
    args = ["models", "quantize", "colour-test", "--calibrate", str(photos), "-r", str(repository)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote colour-test version 2 (int8, calibrated on 4 images)" in result.output
    assert "agreement on 4 images: 4/4 answers matched" in result.output
    repo = Repository(repository)
    repo.scan()
    repo.load_all()
    assert repo.entries["colour-test"].versions == ["1", "2"]
    answer = repo.get("colour-test", "2").predict(image_bytes((64, 48), (250, 10, 10))).result
    assert isinstance(answer, Classes)
    assert answer.class_name[0] == "red"


def test_quantize_without_images_says_so(model_repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["models", "quantize", "colour-test", "--calibrate", str(empty), "-r", str(model_repo)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "no images to calibrate with" in result.output


def test_the_bundled_detector_in_int8_finds_what_fp32_finds(tmp_path: Path) -> None:
    """Quantizing every op of `coco` once gave a zero-scale activation and no detection at all;
    on the project's photos the int8 version must find nearly every fp32 box."""
    repository = tmp_path / "models"
    shutil.copytree(BUNDLED / "coco", repository / "coco")
    args = ["models", "quantize", "coco", "--calibrate", str(PHOTOS), "-r", str(repository)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    repo = Repository(repository)
    repo.scan()
    repo.load_all()
    fp32, int8 = repo.get("coco", "1"), repo.get("coco", "2")
    assert isinstance(fp32, ServedModel)
    assert isinstance(int8, ServedModel)
    photos = [p.read_bytes() for p in sorted(PHOTOS.glob("*.jpg"))]
    each = [agreement(fp32.predict(d).result, int8.predict(d).result) for d in photos]
    reference, matched = sum(a.reference for a in each), sum(a.matched for a in each)
    assert reference >= 10
    assert matched >= 0.8 * reference, each  # same label, box IoU >= 0.9
    assert sum(a.extra for a in each) <= 0.2 * reference, each
