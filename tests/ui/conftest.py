from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.ui.browser import CHROMIUM_ARGS, find_chromium
from tests.ui.servers import api_server


def chromium_path() -> str:
    found = find_chromium()
    if found:
        return found
    if shutil.which("apt-get"):
        pytest.fail("chromium is missing: `make chromium` installs it with apt-get")
    pytest.skip("no chromium, and no apt-get to install it: the browser test needs chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for every browser test of a module."""
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


@pytest.fixture(scope="session")
def synthetic_api(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API over the synthetic repository (every task, and two broken models)."""
    with api_server(model_repo, tmp_path_factory.mktemp("synthetic-api")) as url:
        yield url


@pytest.fixture(scope="session")
def inspection_api(inspect_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API over the planted boards, its camera the real emulator, every inspection kept,
    and two patterns stored: `board` (OK) and `board-missing` (NOK)."""
    from fovea.client import Client
    from tests.inspection.cameras import emulated_camera, photo_folder
    from tests.inspection.planted import BOARD_PATTERN, MISSING_PATTERN

    root = tmp_path_factory.mktemp("inspection-api")
    with (
        emulated_camera(photo_folder(root / "photos"), root) as camera,
        api_server(inspect_repo, root, FOVEA_CAMERA_URL=camera, FOVEA_INSPECT_RECORD="all") as url,
    ):
        with Client(url) as client:
            client.put_pattern("board", BOARD_PATTERN)
            client.put_pattern("board-missing", MISSING_PATTERN)
        yield url
