"""The Inspect page run by Streamlit's AppTest against a real API whose camera is the real
emulator (tests/ui/conftest.py `inspection_api`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from fovea.client import Client
from fovea.ui import launch
from tests.helpers import image_bytes
from tests.inspection.planted import BOARD_PATTERN
from tests.ui.servers import api_server

PHOTO = image_bytes((640, 640))


@pytest.fixture
def open_inspect(inspection_api: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:
    monkeypatch.setenv("FOVEA_API_URL", inspection_api)
    monkeypatch.delenv("FOVEA_API_KEY", raising=False)

    def run() -> AppTest:
        app = AppTest.from_file(str(launch.APP), default_timeout=30).run()
        app.switch_page("views/inspect.py").run()
        assert not app.exception
        return app

    return run


def banner(app: AppTest) -> str:
    [shown] = [m.value for m in app.markdown if "inspection-banner" in m.value]
    return str(shown)


def images(app: AppTest) -> list[Any]:
    return [*app.get("image"), *app.get("imgs")]


def test_trigger_the_camera_and_see_ok(open_inspect: Callable[[], AppTest]) -> None:
    app = open_inspect()
    assert [i.value for i in app.info] == ["Trigger the camera, or upload an image, to inspect it."]
    app.selectbox(key="inspect_model").set_value("inspect-test").run()
    options = app.selectbox(key="inspect_pattern").options
    assert options[0] == "auto"
    assert {"board", "board-missing"} <= set(options)
    app.selectbox(key="inspect_pattern").set_value("board").run()
    app.button(key="inspect_trigger").click().run()
    assert not app.exception
    assert ">OK</div>" in banner(app)
    assert "board · no errors · camera" in banner(app)
    rows = app.dataframe[0].value.to_dict("records")
    assert [(r["label"], r["status"]) for r in rows] == [
        ("chip", "found"),
        ("screw", "found"),
        ("screw", "found"),
        ("cap", "found"),
    ]
    captions = [i.proto.imgs[0].caption for i in images(app)]
    assert captions[0] == "camera: board, OK"
    assert any(c.startswith("OK · board · ") for c in captions[1:])  # the recent strip


def test_upload_an_image_and_see_nok(open_inspect: Callable[[], AppTest]) -> None:
    app = open_inspect()
    app.selectbox(key="inspect_model").set_value("inspect-test").run()
    app.selectbox(key="inspect_pattern").set_value("board-missing").run()
    app.file_uploader(key="inspect_upload").set_value(("part.jpg", PHOTO, "image/jpeg")).run()
    assert ">NOK</div>" in banner(app)
    assert "board-missing · 1 error(s) · part.jpg" in banner(app)
    rows = app.dataframe[0].value.to_dict("records")
    assert rows[-1]["status"] == "missing"
    assert rows[-1]["label"] == "cap"
    # A rerun (any widget) shows the same answer without asking again.
    app.run()
    assert ">NOK</div>" in banner(app)


def test_view_upload_and_delete_patterns(
    open_inspect: Callable[[], AppTest], inspection_api: str
) -> None:
    app = open_inspect()
    names = [r["name"] for r in app.dataframe[-1].value.to_dict("records")]
    assert {"board", "board-missing"} <= set(names)
    app.selectbox(key="patterns_view").set_value("board").run()
    assert app.code[0].value == BOARD_PATTERN.strip()
    app.file_uploader(key="patterns_upload").set_value(
        ("uploaded.toml", BOARD_PATTERN.encode(), "application/toml")
    ).run()
    app.button(key="patterns_save").click().run()
    assert [s.value for s in app.success] == ["Saved uploaded: 4 positions."]
    with Client(inspection_api) as client:
        assert client.pattern("uploaded").toml == BOARD_PATTERN
    app.selectbox(key="patterns_view").set_value("uploaded").run()
    app.button(key="patterns_delete").click().run()
    assert [s.value for s in app.success] == ["Deleted uploaded."]
    with Client(inspection_api) as client:
        assert "uploaded" not in [p.name for p in client.patterns()]


def test_a_broken_pattern_upload_shows_why(open_inspect: Callable[[], AppTest]) -> None:
    app = open_inspect()
    app.file_uploader(key="patterns_upload").set_value(
        ("bad.toml", b"objects = 3", "application/toml")
    ).run()
    app.button(key="patterns_save").click().run()
    [error] = app.error
    assert error.value.startswith("Invalid inspection pattern (HTTP 422): the pattern: objects:")


def test_without_a_camera_the_trigger_says_so(
    inspect_repo: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with api_server(inspect_repo, tmp_path) as url:
        monkeypatch.setenv("FOVEA_API_URL", url)
        app = AppTest.from_file(str(launch.APP), default_timeout=30).run()
        app.switch_page("views/inspect.py").run()
        app.selectbox(key="inspect_model").set_value("inspect-test").run()
        app.button(key="inspect_trigger").click().run()
        [error] = app.error
        assert error.value.startswith("No camera configured (HTTP 503): set FOVEA_CAMERA_URL")
        assert [c.value for c in app.caption if "No kept" in c.value] == [
            "No kept inspection yet (the server keeps NOK ones by default)."
        ]
