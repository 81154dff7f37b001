"""deploy/ checked without a Docker engine: compose, Dockerfiles, Prometheus and Grafana files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yaml"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
