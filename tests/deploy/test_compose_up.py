"""deploy/docker-compose.yaml under podman-compose: `up` starts the api and ui services from the
images the suite built, they answer, and the UI reaches the API by its service name.

No registry is reachable and the sandbox runs containers only on the host's network, so an
override file (written here, beside nothing of this machine's) gives the services the built
images, the host's network, free loopback ports, and `api` as a host alias of 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fovea.bench.server import free_port
from tests.deploy import COMPOSE, ROOT, missing
from tests.deploy.podman import Container, Podman, PodmanError

pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]  # the first test may build


def _podman_compose() -> str:
    beside = Path(sys.executable).parent / "podman-compose"
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    if found is None:
        missing("podman-compose is not installed (the dev extra has it)")
    return found


class Stack:
    def __init__(self, podman: Podman, override: Path) -> None:
        self.podman, self.override = podman, override
        self.project = f"fovea-test-{uuid.uuid4().hex[:8]}"
        self.command = [_podman_compose(), "-p", self.project, "-f", str(COMPOSE)]
        self.command += ["-f", str(override)]

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        result = subprocess.run(
            [*self.command, *args],
            env=self.podman.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )
        if check and result.returncode != 0:
            raise PodmanError(f"podman-compose {args[0]}: {result.stdout}{result.stderr}")
        return result.stdout

    def container(self, service: str) -> Container:
        label = f"--filter=label=io.podman.compose.project={self.project}"
        names = self.podman("ps", "--all", label, "--format", "{{.Names}}").stdout.split()
        (name,) = [n for n in names if n.startswith(f"{self.project}_{service}_")]
        return Container(self.podman, name)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"api": free_port(), "ui": free_port()}


@pytest.fixture(scope="module")
def stack(
    podman: Podman,
    api_image: str,
    ui_image: str,
    ports: dict[str, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    override = {
        "services": {
            "api": {
                "image": api_image,
                "network_mode": "host",
                "environment": {"FOVEA_HOST": "127.0.0.1", "FOVEA_PORT": str(ports["api"])},
            },
            "ui": {
                "image": ui_image,
                "network_mode": "host",
                "extra_hosts": ["api:127.0.0.1"],
                "environment": {
                    "FOVEA_API_URL": f"http://api:{ports['api']}",
                    "FOVEA_UI_HOST": "127.0.0.1",
                    "FOVEA_UI_PORT": str(ports["ui"]),
                },
            },
        }
    }
    path = tmp_path_factory.mktemp("compose") / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    stack = Stack(podman, path)
    try:
        stack("up", "--detach", "--no-build", "api", "ui")
    except PodmanError:
        stack("down", "--timeout", "5", check=False)
        raise
    try:
        yield stack
    finally:
        stack("down", "--timeout", "40")


def test_api_and_ui_come_up_and_answer(stack: Stack, ports: dict[str, int]) -> None:
    api, ui = stack.container("api"), stack.container("ui")
    api.wait_http(f"http://127.0.0.1:{ports['api']}/health/ready", timeout_s=300)
    ui.wait_http(f"http://127.0.0.1:{ports['ui']}/_stcore/health", timeout_s=180)
    # The compose file's own settings reached the container, and its health check passes.
    env = api.inspect()["Config"]["Env"]
    assert "FOVEA_SHUTDOWN_GRACE_S=30" in env
    assert api.healthcheck()
    assert ui.healthcheck()


def test_the_ui_service_reaches_the_api_service_by_name(
    stack: Stack, ports: dict[str, int]
) -> None:
    ui = stack.container("ui")
    ui.wait_http(f"http://127.0.0.1:{ports['ui']}/_stcore/health", timeout_s=180)
    # The UI's own client, inside the UI container, on FOVEA_API_URL (http://api:PORT).
    listed = ui.exec(
        "python",
        "-c",
        "import os; from fovea.client import Client; "
        "print(*(m.name for m in Client(os.environ['FOVEA_API_URL']).models()))",
    )
    assert "coco" in listed.split()
