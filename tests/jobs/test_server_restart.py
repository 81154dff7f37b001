"""A real `fovea serve` killed with SIGKILL in the middle of a job, then started again on the same
data folder: the job resumes where its committed results end, and its final results hold every
image exactly once."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.jobs.camera import planted_folder
from tests.servers import fovea_server

IMAGES = 40


def test_kill_9_mid_job_then_restart(model_repo: Path, tmp_path: Path) -> None:
    folder = planted_folder(tmp_path / "roots" / "traps", IMAGES)
    env = {
        "FOVEA_DATA_DIR": str(tmp_path / "data"),
        "FOVEA_JOBS_ROOTS": str(tmp_path / "roots"),
        "FOVEA_WORKERS": "2",
    }
    with fovea_server(model_repo, tmp_path, **env) as server:
        created = httpx.post(
            f"{server.url}/v1/jobs",
            json={"model": "overload-test", "source": {"folder": str(folder)}},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        job = created.json()["id"]
        before = _wait_done(server.url, job, at_least=6)
        server.process.send_signal(signal.SIGKILL)
        assert server.process.wait(timeout=10) == -signal.SIGKILL
    with sqlite3.connect(tmp_path / "data" / "jobs.sqlite3") as db:
        (committed,) = db.execute("SELECT count(*) FROM items WHERE entry IS NOT NULL").fetchone()
        (state,) = db.execute("SELECT state FROM jobs").fetchone()
    assert state == "running"
    assert before <= committed < IMAGES

    with fovea_server(model_repo, tmp_path, **env) as server:
        first = httpx.get(f"{server.url}/v1/jobs/{job}", timeout=10).json()
        assert first["done"] >= committed  # nothing committed is run or counted again
        _wait_done(server.url, job, at_least=IMAGES)
        info = httpx.get(f"{server.url}/v1/jobs/{job}", timeout=10).json()
        results = httpx.get(f"{server.url}/v1/jobs/{job}/results", timeout=30).json()
    assert (info["state"], info["done"], info["failed"]) == ("done", IMAGES, 0)
    files = [image["file"] for image in results["images"]]
    assert files == [f"site/img-{n:04d}.jpg" for n in range(IMAGES)]  # each exactly once


def _wait_done(url: str, job: str, at_least: int) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done = int(httpx.get(f"{url}/v1/jobs/{job}", timeout=10).json()["done"])
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError(f"job {job}: fewer than {at_least} images done within 90 s")
