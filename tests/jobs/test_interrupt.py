"""Stopping `fovea jobs run` for real (Ctrl-C, `kill`, `kill -9`) and running it again with
--resume: the final file holds every image exactly once, and images finished before the stop
are not run again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fovea.jobs.runner import checkpoint_path
from tests.jobs.camera import planted_folder

IMAGES = 40


def job_command(folder: Path, repo: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "fovea", "jobs", "run", str(folder), "--model", "overload-test",
        "--repository", str(repo), "--out", str(out), "--checkpoint-every", "3", *extra,
    ]  # fmt: skip


def wait_for_checkpoint(out: Path, process: subprocess.Popen[bytes], at_least: int) -> int:
    """Until the checkpoint holds `at_least` images (bounded: 60 s); how many it holds."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the job ended before it could be stopped"
        try:
            done = len(json.loads(checkpoint_path(out).read_text())["images"])
        except (OSError, ValueError):
            done = 0
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError("no checkpoint within 60 s")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_stop_and_resume_runs_every_image_exactly_once(
    stop: signal.Signals, model_repo: Path, tmp_path: Path
) -> None:
    folder = planted_folder(tmp_path / "in", IMAGES)
    out = tmp_path / "results.json"
    env = {**os.environ, "FOVEA_WORKERS": "2"}
    with subprocess.Popen(
        job_command(folder, model_repo, out), env=env, stderr=subprocess.PIPE
    ) as process:
        wait_for_checkpoint(out, process, at_least=6)
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    saved = len(json.loads(checkpoint_path(out).read_text())["images"])
    if stop == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # a clean stop saves everything finished, beyond the last periodic checkpoint
        assert process.returncode == 130, stderr.decode()
        assert f"interrupted: {saved} of {IMAGES} done" in stderr.decode()
    assert 6 <= saved < IMAGES
    assert not out.exists()

    resumed = subprocess.run(
        job_command(folder, model_repo, out, "--resume"),
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr.decode()
    ran = re.search(rb"(\d+) already done, (\d+) to run", resumed.stderr)
    assert ran is not None
    assert (int(ran[1]), int(ran[2])) == (saved, IMAGES - saved)
    files = [i["file"] for i in json.loads(out.read_text())["images"]]
    assert files == sorted(f"site/img-{n:04d}.jpg" for n in range(IMAGES))
    assert not checkpoint_path(out).exists()
