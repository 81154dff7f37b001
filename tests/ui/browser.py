"""Driving the UI in Debian's Chromium with Playwright: shared by the browser tests and
screenshots.py."""

from __future__ import annotations

import shutil

from playwright.sync_api import Locator, Page

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
    widget.locator("input").first.click()
    page.get_by_role("option", name=option, exact=True).click()


def wait_idle(page: Page) -> None:
    """Until the script run finished: Streamlit shows its status widget while one runs."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
