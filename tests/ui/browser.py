"""Driving the UI in Debian's Chromium with Playwright: shared by the browser tests and
screenshots.py."""

from __future__ import annotations

import shutil

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

# Flags for a sandboxed container with no network: no GPU, no background fetches.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The natural size of an <img>, once it has decoded.
NATURAL_SIZE = "async img => { await img.decode(); return [img.naturalWidth, img.naturalHeight]; }"


def grid_cells(page: Page) -> Locator:
    """Cells of the first st.dataframe: it draws on a canvas, its accessible grid holds the text."""
    return page.get_by_test_id("stDataFrame").first.locator("[role=gridcell]")


def find_chromium() -> str | None:
    """Debian's chromium; Playwright's own browser downloads do not work offline."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox or multiselect by its label (found through the
    widget's container: how the label is tied to the input differs between releases)."""
    widgets = page.locator("[data-testid=stSelectbox], [data-testid=stMultiSelect]")
    widget = widgets.filter(has=page.get_by_text(label, exact=True))
    wanted = page.get_by_role("option", name=option, exact=True)
    # A rerun that redraws the widget closes its open list (or shows the list of the run
    # before): open it again, a bounded number of times, until the option is there.
    for _ in range(5):
        widget.locator("input").first.click()
        try:
            wanted.wait_for(timeout=6_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            wait_idle(page)
            continue
        wanted.click()
        return
    raise AssertionError(f"{label!r} never offered {option!r}")


def wait_idle(page: Page) -> None:
    """Until the script run finished: Streamlit shows its status widget while one runs."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
