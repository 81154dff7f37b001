"""The tools virtual environment: the heavy frameworks that model imports need (PyTorch, yolov5,
ultralytics), installed once from a pinned lock file into a cache folder, never into the server's
own environment. Stdlib only: tools/convert_models loads this file directly for its venvs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

STAMP = ".requirements.sha256"


class ToolsEnvError(RuntimeError):
    """The tools environment could not be built, or a script in it failed to run."""


def default_dir() -> Path:
    """Where tools environments live unless told otherwise: $XDG_CACHE_HOME/fovea/tools."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fovea" / "tools"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_venv(
    venv: Path,
    requirements: Path,
    python: str = sys.executable,
    *,
    no_deps: bool = False,
    say: Callable[[str], None] = print,
    timeout_s: float = 3600.0,
) -> Path:
    """The interpreter of `venv`, (re)built first when `requirements` or `python` changed.

    A build that stops half-way leaves no stamp, so the next call starts it again; a lock file
    beside the venv keeps two processes from building the same one at once. `no_deps` installs
    exactly the lines of `requirements` (a lock file), not what their packages declare.
    """
    venv = venv.absolute()
    venv.parent.mkdir(parents=True, exist_ok=True)
    want = f"{sha256(requirements)} {_version_of(python)}"
    vpy = venv / "bin" / "python"
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = venv / STAMP
        if vpy.exists() and stamp.exists() and stamp.read_text().strip() == want:
            return vpy
        say(f"building the tools environment {venv} from {requirements.name} (once)")
        shutil.rmtree(venv, ignore_errors=True)
        run([python, "-m", "venv", str(venv)], say=say, timeout_s=timeout_s)
        pip = [str(vpy), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        run([*pip, *(["--no-deps"] if no_deps else []), "-r", str(requirements)], say, timeout_s)
        stamp.write_text(want + "\n")
    return vpy


def run(
    command: Sequence[str],
    say: Callable[[str], None] = print,
    timeout_s: float = 3600.0,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run `command`, its output to `log` (or kept for the error); ToolsEnvError if it fails."""
    say("+ " + " ".join(command))
    with open(log or os.devnull, "ab") as sink:
        try:
            done = subprocess.run(
                command,
                stdout=sink if log else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolsEnvError(f"{command[0]} ran past {timeout_s:.0f} s and was stopped") from exc
        except OSError as exc:
            raise ToolsEnvError(f"cannot run {command[0]}: {exc}") from exc
    if done.returncode != 0:
        output = log.read_bytes() if log else (done.stdout or b"")
        tail = output.decode(errors="replace")[-3000:].strip()
        raise ToolsEnvError(f"{' '.join(command[:4])} ... failed (exit {done.returncode}):\n{tail}")


def _version_of(python: str) -> str:
    if python == sys.executable:
        return sys.version.split()[0]
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return python  # `python -m venv` will then say what is wrong with it
    return done.stdout.strip() or python
