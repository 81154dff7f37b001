"""The tools venv builder: built once, reused while its lock file is unchanged, rebuilt when it
changes; failures say what failed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fovea.importers import _toolsenv


def test_built_once_then_reused_until_the_requirements_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def run(command: list[str], *args: object, **kwargs: object) -> None:
        commands.append(command)
        if command[1:3] == ["-m", "venv"]:  # what `python -m venv` leaves, minus the minutes
            (Path(command[3]) / "bin").mkdir(parents=True)
            (Path(command[3]) / "bin" / "python").write_text("")

    monkeypatch.setattr(_toolsenv, "run", run)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.14.1\n")
    python = _toolsenv.ensure_venv(tmp_path / "venv", requirements, no_deps=True)
    assert python == tmp_path / "venv" / "bin" / "python"
    assert commands[0] == [sys.executable, "-m", "venv", str(tmp_path / "venv")]
    assert commands[1][-3:] == ["--no-deps", "-r", str(requirements)]
    marker = tmp_path / "venv" / "built-here"
    marker.write_text("")
    assert _toolsenv.ensure_venv(tmp_path / "venv", requirements) == python
    assert len(commands) == 2  # reused as it was
    assert marker.exists()
    requirements.write_text("torch==2.14.2\n")
    _toolsenv.ensure_venv(tmp_path / "venv", requirements)
    assert len(commands) == 4
    assert not marker.exists()  # rebuilt from scratch
    assert (tmp_path / "venv" / _toolsenv.STAMP).read_text().split()[1] == sys.version.split()[0]
    assert _toolsenv._version_of(str(python.parent / "absent")) == str(python.parent / "absent")


def test_a_failed_command_says_what_and_why(tmp_path: Path) -> None:
    fail = [sys.executable, "-c", "import sys; print('no torch for you'); sys.exit(3)"]
    with pytest.raises(_toolsenv.ToolsEnvError, match=r"(?s)exit 3.*no torch for you"):
        _toolsenv.run(fail, say=lambda _: None)
    log = tmp_path / "log.txt"
    with pytest.raises(_toolsenv.ToolsEnvError, match="no torch for you"):
        _toolsenv.run(fail, say=lambda _: None, log=log)
    assert "no torch for you" in log.read_text()
    with pytest.raises(_toolsenv.ToolsEnvError, match="ran past 0 s"):
        _toolsenv.run([sys.executable, "-c", "import time; time.sleep(5)"], lambda _: None, 0.2)
    with pytest.raises(_toolsenv.ToolsEnvError, match="cannot run"):
        _toolsenv.run([str(tmp_path / "absent")], say=lambda _: None)


def test_default_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert _toolsenv.default_dir() == Path("/somewhere/fovea/tools")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _toolsenv.default_dir() == Path.home() / ".cache" / "fovea" / "tools"
