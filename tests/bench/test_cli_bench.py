"""`fovea bench`, bounded: it measures the ceiling and a server in one run and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea.cli import app
from tests.helpers import image_bytes


def test_bench_writes_the_ceiling_and_every_row(model_repo: Path, tmp_path: Path) -> None:
    repository = tmp_path / "models"  # only models that load: the bench waits for readiness
    repository.mkdir()
    (repository / "colour-test").symlink_to(model_repo / "colour-test")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes((640, 480)))
    out = tmp_path / "out"
    arguments = ["bench", "--image", str(photo), "--model", "colour-test", "--repository"]
    arguments += [str(repository), "--concurrency", "1,2", "--images-per-request", "1,2"]
    arguments += ["--duration", "0.5", "--out-dir", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "bench.json").read_text())
    assert [(r["concurrency"], r["images_per_request"]) for r in report["rows"]] == [
        (1, 1),
        (2, 1),
        (1, 2),
        (2, 2),
    ]
    assert all(r["images_per_s"] > 0 and r["errors"] == 0 for r in report["rows"])
    assert all(c["images_per_s"] > 0 for c in report["ceiling"])
    [limit] = [c for c in report["ceiling"] if c["model_only"]]
    assert limit["workers"] >= 1
    for row in report["rows"]:  # CPU per image by stage, from the server's own counters
        assert set(row["cpu_ms"]) == {"decode", "preprocess", "infer", "postprocess"}
        assert row["cpu_ms"]["preprocess"] > 0
        assert row["other_cpu_ms_per_request"] is not None
        assert row["model_only_per_s"] > 0  # measured again right before the row
        assert row["ratio_to_model_only"] == pytest.approx(
            row["images_per_s"] / row["model_only_per_s"], rel=0.02, abs=0.001
        )
    table = (out / "bench.md").read_text()
    assert "| clients | images/request | img/s | x ceiling | model-only img/s | x model-only |" in (
        table
    )
    assert "| model only |" in table
    assert (out / "bench.png").stat().st_size > 0
