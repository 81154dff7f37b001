"""The README tells a newcomer the truth: its commands, settings, routes and CLI all exist."""

import importlib
import re
import subprocess
import sys
from pathlib import Path
from pkgutil import iter_modules

from fastapi.routing import APIWebSocketRoute
from typer.main import get_command

from fovea.api import routes
from fovea.api.app import create_app
from fovea.cli import app as cli_app
from fovea.config import Settings

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"FOVEA_{name.upper()}"
        for name in Settings.model_fields
        if f"`FOVEA_{name.upper()}`" not in README
    ]
    assert missing == []


def test_the_two_commands_exist_and_ci_runs_the_readmes_test_command() -> None:
    assert "make run" in README
    assert "make test" in README
    targets = re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert {"run", "test"} <= set(targets)
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_every_fovea_command_in_the_readme_exists() -> None:
    used = set(re.findall(r"^\s*fovea ((?:[a-z]+ )?[a-z]+)", README, re.MULTILINE))
    assert used, "the README shows no fovea command"
    for words in sorted(used):
        args = [*words.split(), "--help"]
        result = subprocess.run(
            [sys.executable, "-m", "fovea", *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"fovea {words}: {result.stderr}"
    assert get_command(cli_app).name is not None


def test_every_route_in_the_readme_is_served() -> None:
    # OpenAPI has no WebSocket routes: take those from the routers.
    modules = [
        importlib.import_module(f"{routes.__name__}.{m.name}")
        for m in iter_modules(routes.__path__)
    ]
    routers = [m.router for m in modules]
    sockets = {r.path for x in routers for r in x.routes if isinstance(r, APIWebSocketRoute)}
    paths = {
        *create_app(Settings()).openapi()["paths"],
        *sockets,
        "/docs",
        "/redoc",
        "/openapi.json",
    }
    shown = set(re.findall(r"localhost:8000(/[\w/{}.-]*)", README))
    assert shown, "the README shows no route"
    templated = [re.sub(r"\{[^}]+\}", "[^/]+", p) for p in paths]
    missing = [s for s in shown if not any(re.fullmatch(t, s) for t in templated)]
    assert missing == []
