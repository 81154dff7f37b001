from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea.cli import app
from tests.helpers import image_bytes

runner = CliRunner()


def test_models_check_fails_with_readable_reasons(model_repo: Path) -> None:
    result = runner.invoke(app, ["models", "check", str(model_repo)])
    assert result.exit_code == 1
    assert "broken-toml: FAILED:" in result.output
    assert "input: Field required" in result.output
    assert "yolov8-test: ready" in result.output


def test_models_check_passes_on_a_good_repository(model_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "colour-test").symlink_to(model_repo / "colour-test")
    result = runner.invoke(app, ["models", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("path", "code"), [("absent", 2), ("empty", 1)])
def test_models_check_on_no_repository(tmp_path: Path, path: str, code: int) -> None:
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, ["models", "check", str(tmp_path / path)]).exit_code == code


def test_models_list(model_repo: Path) -> None:
    result = runner.invoke(app, ["models", "list", "--repository", str(model_repo)])
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split()[1] for line in result.output.splitlines()}
    assert lines["yolov8-test"] == "ready"  # loaded here, so its true status
    assert lines["broken-toml"] == "failed"


def test_predict_in_process_writes_the_api_json(model_repo: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes((1000, 600)))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    out = tmp_path / "out.json"
    result = runner.invoke(
        app,
        [
            "predict",
            str(photo),
            str(bad),
            "--model",
            "yolov8-test",
            "--repository",
            str(model_repo),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert body["outputs"][0]["id"] == "photo.jpg"
    assert [d["label"] for d in body["outputs"][0]["detections"]] == ["dog", "person"]
    assert body["errors"]["bad.jpg"]["type"] == "/problems/image-decode"


def test_predict_unknown_model_exits_non_zero(model_repo: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes((100, 60)))
    result = runner.invoke(app, ["predict", str(photo), "-m", "nope", "-r", str(model_repo)])
    assert result.exit_code == 1
    assert "no model named 'nope'" in result.output


def test_predict_checks_parameters_with_the_apis_bounds(model_repo: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes((100, 60)))
    args = ["predict", str(photo), "-m", "yolov8-test", "-r", str(model_repo)]
    result = runner.invoke(app, [*args, "--score-threshold", "1.5"])
    assert result.exit_code == 2
    assert "score_threshold" in result.output
    assert "less than or equal to 1" in result.output
    kept = runner.invoke(app, [*args, "--classes", "person", "--score-threshold", "0.5"])
    assert kept.exit_code == 0, kept.output
    assert [d["label"] for d in json.loads(kept.output)["outputs"][0]["detections"]] == ["person"]
