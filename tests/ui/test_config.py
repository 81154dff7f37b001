from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fovea import cli
from fovea.ui import launch
from fovea.ui.config import UISettings, load_settings

UI = Path(launch.__file__).parent


@pytest.mark.parametrize(
    ("environ", "dotenv", "settings"),
    [
        ({}, "", UISettings("http://127.0.0.1:8000", None)),
        ({"FOVEA_API_URL": "http://gpu:9000/"}, "", UISettings("http://gpu:9000", None)),
        ({}, "FOVEA_API_URL=http://a:1\nFOVEA_API_KEY=k1\n", UISettings("http://a:1", "k1")),
        (
            {"FOVEA_API_URL": "http://env:2"},
            "FOVEA_API_URL=http://file:1\nFOVEA_API_KEY=k1\n",
            UISettings("http://env:2", "k1"),
        ),
        (
            {"FOVEA_API_URL": " ", "FOVEA_API_KEY": ""},
            "",
            UISettings("http://127.0.0.1:8000", None),
        ),
    ],
)
def test_load_settings(
    tmp_path: Path, environ: dict[str, str], dotenv: str, settings: UISettings
) -> None:
    (tmp_path / ".env").write_text(dotenv)
    assert load_settings(environ, tmp_path / ".env") == settings


def test_load_settings_without_a_dotenv_file(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path / "absent.env") == UISettings()


def test_streamlit_command() -> None:
    command = launch.streamlit_command(8600, "0.0.0.0")
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(UI / "app.py")]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.port"] == "8600"
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_ui_command_becomes_streamlit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr("os.execve", lambda path, args, env: calls.append((path, args, env)))
    result = CliRunner().invoke(cli.app, ["ui", "--port", "8601", "--api-url", "http://x:1"])
    assert result.exit_code == 0, result.output
    assert "Fovea UI: http://127.0.0.1:8601" in result.output
    [(path, args, env)] = calls
    assert (path, args) == (sys.executable, launch.streamlit_command(8601, "127.0.0.1"))
    assert env["FOVEA_API_URL"] == "http://x:1"


# The UI must work against a remote server: it talks HTTP through fovea.client only.
SERVER_SIDE = ("fovea.runtime", "fovea.models", "fovea.serving", "fovea.tasks", "fovea.api")


def test_no_pages_folder_beside_the_app() -> None:
    # Streamlit would serve a `pages/` folder as pages of their own, bypassing app.py's
    # st.navigation (no sidebar, no connection banner) when a page's URL is opened first.
    assert not (UI / "pages").exists()


def test_ui_sources_import_nothing_server_side() -> None:
    for path in UI.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            bad = [n for n in names if n.startswith(SERVER_SIDE) or n.startswith("onnxruntime")]
            assert bad == [], f"{path.relative_to(UI)} imports {bad}"


def test_ui_modules_load_nothing_server_side() -> None:
    code = (
        "import sys, fovea.ui.api, fovea.ui.widgets, fovea.ui.logic, fovea.ui.render;"
        f"print(sorted(m for m in sys.modules if m.startswith({SERVER_SIDE!r} + ('onnxruntime',))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
