"""deploy/ checked statically (compose, Dockerfiles, Prometheus and Grafana files) and for real:
the images built and run with podman, Prometheus run against Fovea."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yaml"
# Set to 1 (CI does) to fail, not skip, the tests whose tools are missing.
REQUIRE = "FOVEA_TEST_REQUIRE_DEPLOY"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def missing(reason: str) -> NoReturn:
    """Skip for want of a tool (podman, prometheus, chromium), or fail when $REQUIRE is 1."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1 makes this a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
