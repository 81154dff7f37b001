"""The Inspect page in Debian's Chromium against the emulated camera: trigger, read the OK / NOK
banner, the positions table and the annotated picture as a user sees them; upload a pattern."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from fovea.client import Client
from tests.inspection.planted import BOARD_PATTERN
from tests.ui.browser import NATURAL_SIZE, choose, grid_cells, wait_idle
from tests.ui.servers import ui_server


@pytest.fixture(scope="module")
def ui_url(inspection_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ui_server(inspection_api, tmp_path_factory.mktemp("inspect-ui")) as url:
        yield url


def open_inspect(page: Page, url: str) -> None:
    page.goto(f"{url}/inspect")
    page.get_by_role("heading", name="Inspect").first.wait_for()
    wait_idle(page)
    choose(page, "Model", "inspect-test")
    wait_idle(page)


def trigger(page: Page, pattern: str) -> str:
    """Choose the pattern, press the trigger; the banner's text once it shows."""
    choose(page, "Pattern", pattern)
    wait_idle(page)
    page.get_by_role("button", name="Trigger camera").click()
    banner = page.get_by_test_id("inspection-banner")
    banner.filter(has_text=pattern).wait_for()
    wait_idle(page)
    return banner.inner_text()


def test_trigger_shows_ok_then_nok_with_the_annotated_photo(page: Page, ui_url: str) -> None:
    open_inspect(page, ui_url)
    assert trigger(page, "board").splitlines() == ["OK", "board · no errors · camera"]
    cells = grid_cells(page)
    cells.filter(has_text=re.compile(r"^found$")).first.wait_for(state="attached")
    texts = cells.all_inner_texts()
    assert texts.count("found") == 4
    figure = page.get_by_test_id("stImage").filter(has_text="camera: board, OK")
    assert figure.locator("img").evaluate(NATURAL_SIZE) == [640, 640]

    assert trigger(page, "board-missing").splitlines() == [
        "NOK",
        "board-missing · 1 error(s) · camera",
    ]
    cells.filter(has_text=re.compile(r"^missing$")).first.wait_for(state="attached")
    assert "missing" in grid_cells(page).all_inner_texts()
    # The strip of recent results shows the newest kept photo first.
    strip = page.get_by_test_id("stImage").filter(has_text=re.compile(r"^NOK · board-missing · "))
    strip.first.wait_for()
    assert strip.first.locator("img").evaluate(NATURAL_SIZE) == [320, 320]


@pytest.fixture
def cleanup(inspection_api: str) -> Iterator[None]:
    yield
    with Client(inspection_api) as client:
        client.delete_pattern("from-browser")  # other tests count the stored patterns


@pytest.mark.usefixtures("cleanup")
def test_upload_a_pattern_on_the_patterns_tab(page: Page, ui_url: str, tmp_path: Path) -> None:
    pattern = tmp_path / "from-browser.toml"
    pattern.write_text(BOARD_PATTERN)
    page.goto(f"{ui_url}/inspect")
    page.get_by_role("tab", name="Patterns").click()
    wait_idle(page)
    uploads = page.get_by_test_id("stFileUploaderDropzoneInput")
    uploads.last.set_input_files(pattern)
    wait_idle(page)
    page.get_by_role("button", name="Save pattern").click()
    page.get_by_text("Saved from-browser: 4 positions.").wait_for()
    wait_idle(page)  # the flash comes first in the rerun; the View list is redrawn after it
    choose(page, "View", "from-browser")
    page.get_by_text('description = "the planted board"').first.wait_for()
