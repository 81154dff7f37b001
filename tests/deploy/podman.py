"""Podman as the container tests drive it: tests/deploy/containers.conf, the host's network, and
containers that are always removed. Every call is bounded in time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

CONF = os.path.join(os.path.dirname(__file__), "containers.conf")


class PodmanError(RuntimeError):
    """A podman command failed; the message carries its error output."""


@dataclass(frozen=True)
class Podman:
    executable: str

    @classmethod
    def find(cls) -> Podman | None:
        found = shutil.which("podman")
        return cls(found) if found else None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": CONF}

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.executable, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            command = " ".join(args[:2])
            raise PodmanError(
                f"podman {command} exited {result.returncode}: {result.stderr[-3000:]}"
            )
        return result

    def image_exists(self, reference: str) -> bool:
        return self("image", "exists", reference, check=False).returncode == 0

    def image_size(self, reference: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", reference).stdout)

    def shell(self, image: str, script: str, *, user: str = "0") -> str:
        """Output of `sh -c script` in a throwaway container of the image."""
        args = ("--rm", "--network", "host", "--user", user, "--entrypoint", "sh")
        return self("run", *args, image, "-c", script, timeout=120).stdout


@dataclass(frozen=True)
class Container:
    podman: Podman
    name: str

    def inspect(self) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(
            self.podman("container", "inspect", self.name).stdout
        )
        return data[0]

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])

    def logs(self) -> str:
        result = self.podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> str:
        return self.podman("exec", self.name, *command).stdout

    def healthcheck(self) -> bool:
        """Runs the image's HEALTHCHECK command once (`podman healthcheck run`): True if healthy."""
        return self.podman("healthcheck", "run", self.name, check=False, timeout=60).returncode == 0

    def signal(self, name: str) -> None:
        self.podman("kill", "--signal", name, self.name)

    def wait(self, timeout: float) -> int:
        """The exit status, once the container has stopped."""
        return int(self.podman("wait", self.name, timeout=timeout).stdout.split()[-1])

    def wait_http(self, url: str, *, status: int = 200, timeout_s: float = 120) -> httpx.Response:
        """GET url until it answers `status`; fails early, with the logs, if the container stops."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(url, timeout=5)
                if response.status_code == status:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            if not self.running():
                raise PodmanError(f"{self.name} stopped before {url} answered:\n{self.logs()}")
            time.sleep(0.5)
        raise PodmanError(
            f"{url} did not answer {status} in {timeout_s} s ({last}):\n{self.logs()}"
        )


@contextmanager
def container(
    podman: Podman,
    image: str,
    *,
    env: Mapping[str, str] | None = None,
    volumes: Sequence[str] = (),
    add_hosts: Sequence[str] = (),
) -> Iterator[Container]:
    """A detached container of the image, on the host's network, removed afterwards."""
    name = f"fovea-test-{uuid.uuid4().hex[:10]}"
    args = ["run", "--detach", "--name", name, "--network", "host"]
    args += [f"--env={key}={value}" for key, value in (env or {}).items()]
    args += [f"--volume={volume}" for volume in volumes]
    args += [f"--add-host={host}" for host in add_hosts]
    podman(*args, image)
    try:
        yield Container(podman, name)
    finally:
        podman("rm", "--force", "--time", "5", name, check=False, timeout=60)
