"""One two-node Ray cluster on 127.0.0.1 per session (tests/ray_engine/cluster.py), shared by
every test marked `ray`, with `fovea serve --engine ray` deployed on it once: two replicas of the
bundled `coco` model, half a CPU each (one per node), so that half of each node is left for the
Ray Data actors of `fovea jobs run --engine ray`. The fixtures are package-scoped: every Ray
test lives here, and the cluster stops once the last of them has run, not at the end of the
whole suite. FOVEA_RAY_TESTS picks how much runs: `bounded` (default, what `make test` runs,
~2 minutes), `full` (adds the longer checks: `make test-ray`), `off`. Everything started is
stopped, failed or not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.models import BUNDLED
from tests.ray_engine import cluster as ray_cluster

MODE = os.environ.get("FOVEA_RAY_TESTS", "bounded")
PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
REPLICA_CPUS = "0.5"


@dataclass
class Served:
    cluster: ray_cluster.Cluster
    url: str
    process: subprocess.Popen[bytes]
    repository: Path
    log: Path


def full_only() -> pytest.MarkDecorator:
    return pytest.mark.skipif(MODE != "full", reason="FOVEA_RAY_TESTS=full runs it (make test-ray)")


def coverage_env() -> dict[str, str]:
    """Fovea's own processes (the Serve driver, the job's driver) keep coverage."""
    return {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}


@pytest.fixture(scope="package")
def coco_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray-repo") / "models"
    shutil.copytree(BUNDLED / "coco", root / "coco")
    return root


@pytest.fixture(scope="package")
def ray_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ray_cluster.Cluster]:
    if MODE == "off":
        pytest.skip("FOVEA_RAY_TESTS=off")
    with ray_cluster.two_nodes(tmp_path_factory.mktemp("ray-cluster")) as cluster:
        yield cluster
    left = ray_cluster.marked(cluster.tag)
    assert not left, f"processes of the test cluster left running: {left}"


@pytest.fixture(scope="package")
def served(
    ray_nodes: ray_cluster.Cluster, coco_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("ray-serve") / "fovea.log"
    port = ray_cluster.free_port()
    command = [sys.executable, "-m", "fovea", "serve", "--engine", "ray"]
    command += ["--address", ray_nodes.gcs, "--host", ray_cluster.HOST, "--port", str(port)]
    command += ["--replicas", "2", "--replica-cpus", REPLICA_CPUS, "--workers", "1"]
    command += ["--repository", str(coco_repo)]
    env = {**ray_nodes.env, **coverage_env(), "FOVEA_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://{ray_cluster.HOST}:{port}"
        _wait_answering(url, process, log, timeout_s=150)
        yield Served(ray_nodes, url, process, coco_repo, log)
    finally:
        ray_cluster.stop(process, grace_s=30)  # SIGTERM: the driver deletes the application


@pytest.fixture(scope="package")
def local(coco_repo: Path) -> Iterator[TestClient]:
    """The local engine on the same repository, for the answers to compare with."""
    settings = Settings(model_repository=coco_repo, workers=1, grpc_port=None)
    with TestClient(create_app(settings)) as client:
        yield client


def _wait_answering(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> None:
    """Ready, and a predict answered (the model replicas are up, not only the ingress)."""
    photo = (PHOTOS / "chelsea.jpg").read_bytes()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/health/ready", timeout=5).status_code == 200:
                files = {"files": ("c.jpg", photo, "image/jpeg")}
                answer = httpx.post(f"{url}/v1/models/coco/predict", files=files, timeout=60)
                if answer.status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"fovea on Ray did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(1)
