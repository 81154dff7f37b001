"""deploy/Dockerfile built and run with podman: the API on a photo, its health check, its user,
its drain on SIGTERM, a mounted model repository, the UI reaching the API in Chromium, and
what the images hold. Containers share the host's network, on free loopback ports."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from playwright.sync_api import sync_playwright

from fovea.bench.server import free_port
from tests import local_http
from tests.deploy import ROOT, missing
from tests.deploy.podman import Container, Podman, container
from tests.helpers import image_bytes
from tests.ui.browser import CHROMIUM_ARGS, choose, find_chromium, wait_idle

pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]  # the first test builds

PHOTO = ROOT / "tests/fixtures/photos/chelsea.jpg"
FOVEA_UID = "10001"
# Megabytes the image may add over its Python base (measured: api 271, ui 642).
# The API image carries the `inspect` extra: SciPy is about 110 MB of it.
ADDED_MB = {"api": 450, "ui": 700}
# What the image holds, as JSON, read by the venv's Python as root.
INSPECT = r"""
import importlib.metadata as m, json, os, re, shutil
tops = ("/opt/fovea", "/app", "/home/fovea")
print(json.dumps({
    "distributions": sorted(d.metadata["Name"] for d in m.distributions()),
    # What the installed distributions themselves need (extras aside): not dev-only, then.
    "required": sorted({re.match(r"[A-Za-z0-9._-]+", r)[0] for d in m.distributions()
                        for r in d.requires or () if "extra ==" not in r}),
    "tools": sorted(t for t in ("gcc", "cc", "c++", "make", "git") if shutil.which(t)),
    "leftovers": sorted(p for p in ("/dist", "/src", "/root/.cache") if os.path.exists(p)),
    "wheels": [f for t in tops for _, _, fs in os.walk(t) for f in fs if f.endswith(".whl")],
}))
"""


@dataclass(frozen=True)
class Served:
    container: Container
    url: str


def _api_env(port: int, **extra: str) -> dict[str, str]:
    return {"FOVEA_HOST": "127.0.0.1", "FOVEA_PORT": str(port), "FOVEA_WORKERS": "2", **extra}


@pytest.fixture(scope="module")
def api(podman: Podman, api_image: str) -> Iterator[Served]:
    """The API image as built: the bundled models."""
    port = free_port()
    with container(podman, api_image, env=_api_env(port)) as running:
        url = f"http://127.0.0.1:{port}"
        running.wait_http(f"{url}/health/ready", timeout_s=300)
        yield Served(running, url)


@pytest.fixture(scope="module")
def repository(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic test repository (two of its models are broken), readable by the image's
    user: pytest's temporary folders are private to root."""
    copy = tmp_path_factory.mktemp("mounted") / "models"
    shutil.copytree(model_repo, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy


@pytest.fixture(scope="module")
def mounted(podman: Podman, api_image: str, repository: Path) -> Iterator[Served]:
    port = free_port()
    env = _api_env(port, FOVEA_MODEL_REPOSITORY="/models")
    with container(podman, api_image, env=env, volumes=[f"{repository}:/models:ro"]) as running:
        url = f"http://127.0.0.1:{port}"
        running.wait_http(f"{url}/health/ready", status=503, timeout_s=120)
        yield Served(running, url)


def test_the_api_image_finds_the_cat_in_a_photo(api: Served) -> None:
    files = {"files": (PHOTO.name, PHOTO.read_bytes(), "image/jpeg")}
    response = httpx.post(f"{api.url}/v1/models/coco/predict", files=files, timeout=60)
    assert response.status_code == 200, response.text
    labels = [d["label"] for d in response.json()["outputs"][0]["detections"]]
    assert "cat" in labels


def test_the_server_is_pid_1_and_not_root(api: Served) -> None:
    status = api.container.exec("cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {FOVEA_UID}  # real, effective, saved and filesystem uid
    # Exec form: the server itself is PID 1, so `podman stop`'s SIGTERM reaches it.
    assert api.container.exec("cat", "/proc/1/cmdline").split("\0")[1:3] == [
        "/opt/fovea/bin/fovea",
        "serve",
    ]


def test_the_health_check_follows_ready(api: Served, mounted: Served) -> None:
    declared = api.container.inspect()["Config"]["Healthcheck"]["Test"]
    assert "/health/ready" in declared[-1]  # the image's HEALTHCHECK, kept by --format docker
    assert httpx.get(f"{api.url}/health/ready", timeout=10).status_code == 200
    assert api.container.healthcheck()
    # Two models of the mounted repository fail to load: not ready, so not healthy.
    assert httpx.get(f"{mounted.url}/health/ready", timeout=10).status_code == 503
    assert not mounted.container.healthcheck()


def test_a_mounted_model_repository_is_served(mounted: Served, repository: Path) -> None:
    listed = httpx.get(f"{mounted.url}/v1/models", timeout=10).json()["models"]
    assert {m["name"] for m in listed} == {p.name for p in repository.iterdir() if p.is_dir()}
    files = {"files": ("a.jpg", image_bytes((1000, 600)), "image/jpeg")}
    response = httpx.post(f"{mounted.url}/v1/models/yolov8-test/predict", files=files, timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.json()["outputs"][0]["detections"]) == 2  # the planted boxes, after NMS


def test_sigterm_drains_in_flight_requests_and_exits_zero(
    podman: Podman, api_image: str, repository: Path
) -> None:
    port = free_port()
    env = _api_env(port, FOVEA_MODEL_REPOSITORY="/models", FOVEA_URL_ALLOWLIST="127.0.0.1")
    with (
        local_http.serve() as images,
        container(podman, api_image, env=env, volumes=[f"{repository}:/models:ro"]) as running,
    ):
        url = f"http://127.0.0.1:{port}"
        running.wait_http(f"{url}/health/live")
        results: list[httpx.Response] = []
        slow = {"inputs": [{"url": f"{images}/slow"}]}  # the image server takes 2 s to answer
        worker = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/v1/models/yolov8-test/predict", json=slow, timeout=60)
            )
        )
        worker.start()
        time.sleep(0.8)
        running.signal("TERM")
        time.sleep(0.3)
        ready = httpx.get(f"{url}/health/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["draining"] is True
        worker.join(timeout=60)
        assert results[0].status_code == 200, results[0].text
        assert running.wait(timeout=60) == 0
        assert "Finished server process" in running.logs()


def test_the_ui_container_reaches_the_api_container(
    podman: Podman, ui_image: str, api: Served
) -> None:
    chromium = find_chromium()
    if chromium is None:
        missing("chromium is not installed (`make chromium` installs it)")
    port = free_port()
    env = {
        # As in compose: the API by a host name (here an alias of 127.0.0.1, the shared network).
        "FOVEA_API_URL": f"http://api:{api.url.rsplit(':', 1)[1]}",
        "FOVEA_UI_HOST": "127.0.0.1",
        "FOVEA_UI_PORT": str(port),
    }
    with container(podman, ui_image, env=env, add_hosts=["api:127.0.0.1"]) as ui:
        url = f"http://127.0.0.1:{port}"
        ui.wait_http(f"{url}/_stcore/health", timeout_s=180)
        assert ui.healthcheck()
        status = ui.exec("cat", "/proc/1/status")
        assert f"Uid:\t{FOVEA_UID}" in status
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.get_by_role("heading", name="Predict").wait_for()
            wait_idle(page)
            choose(page, "Model", "coco")  # the models come from the API container
            choose(page, "or try a sample photo", "chelsea.jpg")
            cells = page.get_by_test_id("stDataFrame").first.locator("[role=gridcell]")
            cells.filter(has_text=re.compile(r"^cat$")).first.wait_for(state="attached")
            browser.close()


def _names(requirements: list[str]) -> set[str]:
    return {_normal(Requirement(r).name) for r in requirements}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_images_are_small_and_hold_no_build_tools_caches_or_dev_dependencies(
    podman: Podman, python_image: str, api_image: str, ui_image: str
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = _names(project["dependencies"]) | _names(extras["ui"])
    dev_only = _names([*extras["dev"], *extras["openvino"], *extras["quantize"]]) - runtime
    base = podman.image_size(python_image)
    for target, image in (("api", api_image), ("ui", ui_image)):
        added_mb = (podman.image_size(image) - base) / 1_000_000
        assert added_mb < ADDED_MB[target], f"{target} adds {added_mb:.0f} MB to its base"
        run = ("run", "--rm", "--user=0", "--network=host", image)
        held = json.loads(podman(*run, "/opt/fovea/bin/python", "-c", INSPECT).stdout)
        installed = {_normal(name) for name in held["distributions"]}
        needed = {_normal(name) for name in held["required"]}  # by what the image runs
        assert installed & (dev_only - needed - {"fovea-serve"}) == set(), target
        assert installed & {"pip", "setuptools", "wheel"} == set(), target
        assert ("streamlit" in installed) is (target == "ui")
        assert held["tools"] == [], target
        assert held["leftovers"] == [], target
        assert held["wheels"] == [], target
