"""`fovea jobs run SOURCE --engine ray` on the session's two-node cluster (Ray Data, an actor pool
of the served model, half a CPU each): the results file is the local engine's (completion time
aside) and the `megadetector` validator accepts it; corrupt and empty files are failure
entries; `--resume` takes the checkpoint and runs only the rest. Marked `ray`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fovea.cli import app
from fovea.formats import megadetector
from fovea.jobs.runner import checkpoint_path
from tests.jobs.camera import EXPECTED_FILES, nested_folder
from tests.jobs.validator import megadetector_problems
from tests.ray_engine import cluster as ray_cluster
from tests.ray_engine.conftest import coverage_env

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]
MODEL = "coco-camtrap"


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nested_folder(tmp_path_factory.mktemp("ray-jobs") / "traps")


@pytest.fixture(scope="module")
def local_results(traps: Path) -> Path:
    out = traps.parent / "local.json"
    result = CliRunner().invoke(
        app, ["jobs", "run", str(traps), "-m", MODEL, "-o", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return out


def _on_ray(
    cluster: ray_cluster.Cluster, traps: Path, out: Path, *more: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fovea", "jobs", "run", str(traps), "-m", MODEL]
    command += ["-o", str(out), "--engine", "ray", "--address", cluster.gcs]
    command += ["--actor-cpus", "0.5", *more]
    return subprocess.run(
        command,
        env={**cluster.env, **coverage_env()},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _comparable(path: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(path.read_text())
    body["info"].pop("detection_completion_time", None)
    return body


def test_a_job_on_ray_data_writes_the_local_engine_s_file(
    ray_nodes: ray_cluster.Cluster, traps: Path, local_results: Path
) -> None:
    out = traps.parent / "ray.json"
    done = _on_ray(ray_nodes, traps, out, "--quiet")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert megadetector_problems(out, image_root=traps) == []
    assert _comparable(out) == _comparable(local_results)
    images = {i["file"]: i for i in json.loads(out.read_text())["images"]}
    assert list(images) == EXPECTED_FILES
    for bad in ("cam2/corrupt.jpg", "cam2/zero.jpg"):
        assert images[bad] == {"file": bad, "failure": "image access failure", "detections": None}
    assert images["cam1/a.jpg"]["detections"][0]["category"] == "1"  # the cat


def test_resume_on_ray_runs_only_what_the_checkpoint_lacks(
    ray_nodes: ray_cluster.Cluster, traps: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    # A checkpoint that says a.jpg (a cat) failed: a rerun would find the cat.
    done = [
        megadetector.entry_json(megadetector.failure_entry("cam1/a.jpg", "from the checkpoint"))
    ]
    checkpoint_path(out).write_text(json.dumps({"images": done}))
    resumed = _on_ray(ray_nodes, traps, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 already done, 5 to run" in resumed.stderr
    images = json.loads(out.read_text())["images"]
    assert [i["file"] for i in images] == EXPECTED_FILES
    assert images[0]["failure"] == "from the checkpoint"
    assert not checkpoint_path(out).exists()
    assert megadetector_problems(out, image_root=traps) == []
