"""Fixtures of the container and Prometheus tests: the tools, and the images (built once a run,
or reused). Without a tool the tests are skipped with the reason, or fail in CI (REQUIRE)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy import images, missing
from tests.deploy.podman import Podman, PodmanError


@dataclass(frozen=True)
class Built:
    tag: str
    size: int
    base_size: int
    seconds: float | None  # None: reused


BUILT: dict[str, Built] = {}  # target -> image, for the summary at the end of the run


@pytest.fixture(scope="session")
def podman() -> Podman:
    found = Podman.find()
    if found is None:
        missing("podman is not installed (`make deploy-tools` installs it)")
    return found


@pytest.fixture(scope="session")
def python_image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The base image, once podman has shown that it can run a container of it here."""
    try:
        base = images.base_image(podman, tmp_path_factory.mktemp("base"))
    except images.BaseUnavailable as exc:
        missing(str(exc))
    except PodmanError as exc:
        missing(f"podman cannot make the base image here: {exc}")
    probe = podman(
        "run", "--rm", "--network=host", base, "python", "-c", "print(6 * 7)", check=False
    )
    if probe.stdout.strip() != "42":
        missing(f"podman cannot run containers here: {probe.stderr[-1500:]}")
    return base


def _build(podman: Podman, target: str, base: str, work: Path) -> str:
    start = time.monotonic()
    tag, built = images.build(podman, target, base, images.pip_access(), work)
    seconds = time.monotonic() - start if built else None
    BUILT[target] = Built(tag, podman.image_size(tag), podman.image_size(base), seconds)
    return tag


@pytest.fixture(scope="session")
def api_image(podman: Podman, python_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(podman, "api", python_image, tmp_path_factory.mktemp("build-api"))


@pytest.fixture(scope="session")
def ui_image(podman: Podman, python_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(podman, "ui", python_image, tmp_path_factory.mktemp("build-ui"))


@pytest.fixture(scope="session")
def prometheus() -> str:
    """Debian's prometheus (its promtool beside it)."""
    found = shutil.which("prometheus")
    if found is None or shutil.which("promtool") is None:
        missing("prometheus and promtool are not installed (`make deploy-tools` installs them)")
    return found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not BUILT:
        return
    terminalreporter.section("deploy images")
    for target, built in sorted(BUILT.items()):
        mb = 1_000_000
        how = f"built in {built.seconds:.0f} s" if built.seconds is not None else "reused"
        terminalreporter.write_line(
            f"{target}: {built.size / mb:.0f} MB ({built.tag}; base {built.base_size / mb:.0f} MB"
            f" + Fovea {(built.size - built.base_size) / mb:.0f} MB), {how}"
        )
