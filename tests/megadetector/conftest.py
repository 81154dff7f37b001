"""The MegaDetector equality tests need PyTorch: they run in the tools venv that `fovea models
import` builds (FOVEA_TOOLS_DIR, default ~/.cache/fovea/tools; ~5.5 GB, a few minutes the first
time), with MegaDetector's own package beside it. FOVEA_MEGADETECTOR_TESTS picks how much runs:
`bounded` (default, what `make test` runs: MegaDetector v5 on one photo), `full` (every photo, the
v6 architecture and the letterbox measurement: `make test-megadetector`), `off`.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fovea.config import Settings
from fovea.importers import _toolsenv
from fovea.importers.megadetector import REQUIREMENTS, VENV_NAME

MODE = os.environ.get("FOVEA_MEGADETECTOR_TESTS", "bounded")
HERE = Path(__file__).parent
REFERENCE_REQUIREMENTS = HERE / "requirements-reference.txt"


@dataclass(frozen=True)
class Tools:
    python: Path
    tools_dir: Path
    reference: Path  # MegaDetector's package, for PYTHONPATH

    def run(self, *args: str, timeout_s: float = 1200.0) -> None:
        """tools_side.py in the tools venv, MegaDetector's package importable."""
        env = {**os.environ, "PYTHONPATH": str(self.reference), "YOLO_OFFLINE": "1"}
        config = str(self.tools_dir / VENV_NAME / "config")
        env.update(YOLO_CONFIG_DIR=config, YOLOV5_CONFIG_DIR=config, PYTHONWARNINGS="ignore")
        done = subprocess.run(
            [str(self.python), str(HERE / "tools_side.py"), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def full_only() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        MODE != "full", reason="FOVEA_MEGADETECTOR_TESTS=full runs it (make test-megadetector)"
    )


@pytest.fixture(scope="session")
def tools() -> Tools:
    if MODE == "off":
        pytest.skip("FOVEA_MEGADETECTOR_TESTS=off")
    tools_dir = Settings().tools_dir or _toolsenv.default_dir()
    reference = tools_dir / "megadetector-reference"
    try:
        python = _toolsenv.ensure_venv(
            tools_dir / VENV_NAME, REQUIREMENTS, no_deps=True, say=lambda _: None
        )
        want = _toolsenv.sha256(REFERENCE_REQUIREMENTS)
        stamp = reference / _toolsenv.STAMP
        if not (stamp.exists() and stamp.read_text().strip() == want):
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            target = ["--no-deps", "--upgrade", "--target", str(reference)]
            _toolsenv.run([*pip, *target, "-r", str(REFERENCE_REQUIREMENTS)], lambda _: None)
            stamp.write_text(want + "\n")
    except _toolsenv.ToolsEnvError as exc:
        pytest.skip(
            "the tools venv (torch, yolov5, ultralytics from the package registries) could "
            f"not be built here: {exc}"
        )
    return Tools(python, tools_dir, reference)
