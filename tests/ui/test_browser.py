"""The whole path in a real browser: API and UI as subprocesses, Debian's Chromium driven
headless by Playwright, a real photo uploaded through the page, the detections table read back."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.ui.browser import CHROMIUM_ARGS, choose, find_chromium
from tests.ui.servers import api_server, ui_server

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"


def chromium_path() -> str:
    found = find_chromium()
    if found:
        return found
    if shutil.which("apt-get"):
        pytest.fail("chromium is missing: `make chromium` installs it with apt-get")
    pytest.skip("no chromium, and no apt-get to install it: the browser test needs chromium")


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("browser-servers")
    with api_server(None, logs) as api, ui_server(api, logs) as ui:
        yield ui


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def test_upload_a_photo_and_read_the_detections(page: Page, ui_url: str, tmp_path: Path) -> None:
    page.goto(ui_url)  # Predict is the default page
    page.get_by_role("heading", name="Predict").wait_for()
    page.get_by_label("API URL", exact=True).wait_for()
    choose(page, "Model", "coco")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(PHOTOS / "chelsea.jpg")
    # st.dataframe draws on a canvas; its accessible grid carries the cell text.
    cells = page.get_by_test_id("stDataFrame").first.locator("[role=gridcell]")
    cells.filter(has_text=re.compile(r"^cat$")).first.wait_for(state="attached")
    assert "cat" in cells.all_inner_texts()
    page.get_by_text(re.compile(r"^chelsea.jpg: \d+ detections$")).wait_for()
    page.screenshot(path=tmp_path / "predict.png", full_page=True)
    assert (tmp_path / "predict.png").stat().st_size > 10_000
