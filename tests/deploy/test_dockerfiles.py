"""The Dockerfiles, read without an engine: stages, user, health check, command, COPY sources."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea import cli
from fovea.ui.launch import streamlit_command
from tests.deploy import DEPLOY, ROOT
from tests.deploy.dockerfile import (
    Instruction,
    Stage,
    chain,
    ignore_patterns,
    inherited,
    parse_dockerfile,
    stage_named,
)
from tests.servers import fovea_server

CPU, GPU = DEPLOY / "Dockerfile", DEPLOY / "Dockerfile.gpu"
SERVE = ["fovea", "serve"]  # FOVEA_HOST and FOVEA_PORT, set in the image, say where


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_the_default_target_serves_the_api(dockerfile: Path) -> None:
    stages = parse_dockerfile(dockerfile)
    api = stages[-1]  # `docker build` without --target builds the last stage
    assert api.name == "api"
    cmd = inherited(stages, api, "CMD")
    assert cmd is not None
    assert cmd.exec_form() == SERVE
    assert "8000" in (api.last("EXPOSE") or Instruction("EXPOSE", {}, "")).args.split()
    assert {"FOVEA_HOST=0.0.0.0", "FOVEA_PORT=8000"} <= _env(stages, api)


def _env(stages: list[Stage], stage: Stage) -> set[str]:
    """NAME=value words of the ENV instructions a stage inherits."""
    lines = (i.args for s in chain(stages, stage) for i in s.instructions if i.keyword == "ENV")
    return {word for line in lines for word in line.split()}


def _targets() -> list[tuple[Path, str]]:
    return [(CPU, "api"), (CPU, "ui"), (GPU, "api")]


@pytest.mark.parametrize(("dockerfile", "target"), _targets(), ids=["cpu-api", "cpu-ui", "gpu"])
def test_targets_run_as_a_non_root_user(dockerfile: Path, target: str) -> None:
    stages = parse_dockerfile(dockerfile)
    user = inherited(stages, stage_named(stages, target), "USER")
    assert user is not None, "no USER: the container would run as root"
    name, _, group = user.args.partition(":")
    assert name not in {"root", "0"}
    assert group not in {"root", "0"}


@pytest.mark.parametrize(
    ("dockerfile", "target", "url"),
    [
        (CPU, "api", "/health/ready"),
        (CPU, "ui", "/_stcore/health"),
        (GPU, "api", "/health/ready"),
    ],
    ids=["cpu-api", "cpu-ui", "gpu"],
)
def test_targets_have_a_python_health_check(dockerfile: Path, target: str, url: str) -> None:
    stages = parse_dockerfile(dockerfile)
    check = inherited(stages, stage_named(stages, target), "HEALTHCHECK")
    assert check is not None
    command = check.exec_form()
    assert command[:2] == ["python", "-c"]  # slim images have no curl
    assert url in command[2]


def test_ui_target_runs_fovea_ui_with_the_ui_extra() -> None:
    stages = parse_dockerfile(CPU)
    ui = stage_named(stages, "ui")
    cmd = inherited(stages, ui, "CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["fovea", "ui"]
    assert "8501" in (ui.last("EXPOSE") or Instruction("EXPOSE", {}, "")).args.split()
    venv = next(i for i in ui.instructions if i.keyword == "COPY" and "from" in i.flags)
    installs = " ".join(i.args for i in stage_named(stages, venv.flags["from"]).instructions)
    assert "[ui]" in installs
    env = _env(stages, ui)
    assert {"FOVEA_API_URL=http://api:8000", "FOVEA_UI_HOST=0.0.0.0", "FOVEA_UI_PORT=8501"} <= env
    check = inherited(stages, ui, "HEALTHCHECK")
    assert check is not None
    assert "FOVEA_UI_PORT" in check.exec_form()[2]


def test_fovea_ui_listens_where_the_ui_image_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI image sets FOVEA_UI_HOST and FOVEA_UI_PORT: `fovea ui` must read them."""
    calls: list[list[str]] = []
    monkeypatch.setattr("os.execve", lambda path, args, env: calls.append(args))
    monkeypatch.setenv("FOVEA_UI_HOST", "0.0.0.0")
    monkeypatch.setenv("FOVEA_UI_PORT", "8599")
    result = CliRunner().invoke(cli.app, ["ui"])
    assert result.exit_code == 0, result.output
    assert calls == [streamlit_command(8599, "0.0.0.0")]


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_the_api_installs_the_inspect_extra_and_owns_its_data_dir(dockerfile: Path) -> None:
    stages = parse_dockerfile(dockerfile)
    runs = " ".join(i.args for s in stages for i in s.instructions if i.keyword == "RUN")
    assert '"${wheel}[inspect]"' in runs  # scipy: visual inspection's matching
    assert "install -d -o fovea -g fovea /home/fovea/.local/share/fovea" in runs


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_copy_sources_exist_and_are_in_the_build_context(dockerfile: Path) -> None:
    stages = parse_dockerfile(dockerfile)
    names = {s.name for s in stages}
    patterns = ignore_patterns(dockerfile)
    assert patterns[0] == "*", "the ignore file should be an allowlist"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = []
    for stage in stages:
        for copy in (i for i in stage.instructions if i.keyword in {"COPY", "ADD"}):
            if "from" in copy.flags:
                assert copy.flags["from"] in names, f"COPY --from an unknown stage: {copy.args}"
                continue
            *sources, _destination = copy.args.split()
            copied += sources
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, not in the repo"
        assert source.rstrip("/") in included, f"{source} is left out of the build context"


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_the_build_context_leaves_out_the_heavy_folders(dockerfile: Path) -> None:
    included = {p[1:] for p in ignore_patterns(dockerfile) if p.startswith("!")}
    for heavy in (".venv", ".git", "tools", "benchmarks", "tests"):
        assert not any(p == heavy or p.startswith(heavy + "/") for p in included)


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_base_images_are_pinned_and_no_dev_extra_is_installed(dockerfile: Path) -> None:
    stages = parse_dockerfile(dockerfile)
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            continue
        _, _, tag = stage.base.rpartition(":")
        assert re.match(r"\d+\.\d+\.\d+", tag), f"unpinned base image {stage.base}"
        runs = " ".join(i.args for i in stage.instructions if i.keyword == "RUN")
        assert "[dev]" not in runs
        assert "-e ." not in runs


def test_gpu_image_swaps_onnxruntime_for_onnxruntime_gpu_on_cuda() -> None:
    stages = parse_dockerfile(GPU)
    assert any(s.base.startswith("nvidia/cuda:") and "cudnn-runtime" in s.base for s in stages)
    runs = " ".join(i.args for s in stages for i in s.instructions if i.keyword == "RUN")
    assert runs.index("pip uninstall -y onnxruntime ") < runs.index("onnxruntime-gpu==")


def test_health_checks_follow_the_same_command_in_both_images() -> None:
    cpu, gpu = parse_dockerfile(CPU), parse_dockerfile(GPU)
    cpu_check = inherited(cpu, stage_named(cpu, "api"), "HEALTHCHECK")
    gpu_check = inherited(gpu, stage_named(gpu, "api"), "HEALTHCHECK")
    assert cpu_check is not None
    assert gpu_check is not None
    assert cpu_check.exec_form() == gpu_check.exec_form()


def _health_check(port: int) -> int:
    stages = parse_dockerfile(CPU)
    check = inherited(stages, stage_named(stages, "api"), "HEALTHCHECK")
    assert check is not None
    command = [sys.executable, *check.exec_form()[1:]]
    env = {"FOVEA_PORT": str(port), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode


def test_the_api_health_check_passes_only_when_ready(model_repo: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    shutil.copytree(model_repo / "colour-test", ready / "colour-test")
    with fovea_server(ready, tmp_path) as server:
        assert _health_check(int(server.url.rsplit(":", 1)[1])) == 0
    # The synthetic repository holds two broken models: /health/ready answers 503.
    with fovea_server(model_repo, tmp_path) as server:
        assert _health_check(int(server.url.rsplit(":", 1)[1])) == 1
