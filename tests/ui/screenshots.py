"""Screenshots of every page for the README: `python -m tests.ui.screenshots [folder]`.

Runs the bundled models (see `demo_repository`), then drives each page in headless Chromium.
"""

from __future__ import annotations

import io
import re
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from fovea.client import Client
from fovea.ui.widgets import SAMPLES
from tests.inspection.cameras import emulated_camera
from tests.ui.browser import CHROMIUM_ARGS, choose, find_chromium, wait_idle
from tests.ui.servers import api_server, demo_repository, ui_server
from tests.video.clips import CODECS, encode, pan_and_zoom

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
WIDTH, HEIGHT = 1400, 900
# What `fovea patterns learn` makes of the astronaut sample with `coco`: one person.
ASTRONAUT = """model = "coco"
description = "the astronaut sample: one person, where she stands"
[tolerance]
x = 0.02
y = 0.02
w = 0.02
h = 0.02
[[objects]]
label = "person"
box = [0.37001, 0.50999, 0.68135, 0.96373]
"""
CONTENT_HEIGHT = """() => {
    const block = document.querySelector('[data-testid="stMainBlockContainer"]');
    return Math.ceil(block.getBoundingClientRect().top + block.scrollHeight);
}"""


def open_page(page: Page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title).wait_for()
    wait_idle(page)


def shoot(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the window to fit."""
    wait_idle(page)
    height = 0
    while height != (height := min(page.evaluate(CONTENT_HEIGHT), 4000)):
        page.set_viewport_size({"width": WIDTH, "height": height})
        page.wait_for_timeout(1000)  # let images, tables and charts paint at the new size
    png = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    # 256 colours: a third of the bytes in the repository, no visible loss on these pages.
    png.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    print(path)


def take_all(page: Page, ui: str, out: Path) -> None:
    open_page(page, ui, "Predict")
    choose(page, "or try a sample photo", "chelsea.jpg")
    page.get_by_test_id("stDataFrame").locator("[role=gridcell]").first.wait_for(state="attached")
    shoot(page, out / "predict.png")

    open_page(page, ui, "Predict")
    photos = [PHOTOS / n for n in ("astronaut.jpg", "coffee.jpg", "motorcycle.jpg")]
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(photos)
    page.get_by_text("One image in detail").wait_for()
    shoot(page, out / "predict-batch.png")

    open_page(page, f"{ui}/compare", "Compare")
    choose(page, "Models", "face-detection")
    choose(page, "or try a sample photo", "astronaut.jpg")
    page.get_by_role("heading", name="face-detection").wait_for()
    shoot(page, out / "compare.png")

    open_page(page, f"{ui}/segmentation", "Segmentation")
    choose(page, "or try a sample photo", "astronaut.jpg")
    page.get_by_text("Overlay at 50%").wait_for()
    shoot(page, out / "segmentation.png")

    open_page(page, f"{ui}/classification", "Classification")
    choose(page, "or try a sample photo", "chelsea.jpg")
    page.get_by_test_id("stVegaLiteChart").wait_for()
    page.get_by_text(re.compile(r"^Score-CAM: where the model looked for ")).wait_for()
    shoot(page, out / "classification.png")

    open_page(page, f"{ui}/inspect", "Inspect")
    choose(page, "Pattern", "astronaut")
    for expected in ("OK", "NOK"):  # the camera serves the astronaut, then the cat
        page.get_by_role("button", name="Trigger camera").click()
        banner = page.get_by_test_id("inspection-banner")
        banner.filter(has_text=re.compile(rf"^{expected}")).wait_for()
        wait_idle(page)
    page.get_by_test_id("stImage").filter(has_text=re.compile(r"^NOK · astronaut")).wait_for()
    shoot(page, out / "inspect.png")
    take_video(page, ui, out)

    open_page(page, f"{ui}/models", "Models")
    shoot(page, out / "models.png")
    open_page(page, f"{ui}/server", "Server")
    shoot(page, out / "server.png")


def take_video(page: Page, ui: str, out: Path) -> None:
    """The Video page on the test suite's pan from the astronaut to the cat, at 640x480."""
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "astronaut-to-cat.mp4"
        encode(clip, CODECS["h264-mp4"], pan_and_zoom(90, (640, 480)))
        open_page(page, f"{ui}/video", "Video")
        choose(page, "Model", "coco")
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(clip)
        page.locator("video").wait_for(timeout=300_000)
        page.get_by_test_id("stVegaLiteChart").wait_for()
        wait_idle(page)
        page.locator("video").evaluate(
            "v => v.readyState >= 2 || new Promise(ok => "
            "v.addEventListener('loadeddata', ok, {once: true}))"
        )
        shoot(page, out / "video.png")


def take_jobs(page: Page, ui: str, out: Path, scratch: Path) -> None:
    """A job over a zip of the sample photos, done, its gallery showing the animals."""
    archive = scratch / "camera-traps.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for n, photo in enumerate(sorted(PHOTOS.glob("*.jpg"))):
            zipped.write(photo, f"cam{n % 2 + 1}/{photo.name}")
    open_page(page, f"{ui}/jobs", "Jobs")
    choose(page, "Model", "coco-camtrap")
    page.get_by_text("Upload a zip").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(archive)
    page.get_by_text(archive.name).wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Start job").click()
    page.get_by_text(re.compile(r"^done: ")).wait_for(timeout=60_000)
    page.get_by_test_id("stImage").first.wait_for()
    shoot(page, out / "jobs.png")


def main(out: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        sys.exit("chromium is missing: `make chromium` installs it")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        photos = root / "camera"
        photos.mkdir()
        for n, name in enumerate(("astronaut.jpg", "chelsea.jpg")):
            (photos / f"{n}-{name}").write_bytes((SAMPLES / name).read_bytes())
        with (
            emulated_camera(photos, root) as camera,
            api_server(
                demo_repository(root),
                root,
                FOVEA_CAMERA_URL=camera,
                FOVEA_INSPECT_RECORD="all",
                FOVEA_DATA_DIR=str(root / "data"),
            ) as api,
            ui_server(api, root) as ui,
            sync_playwright() as playwright,
        ):
            with Client(api) as client:
                client.put_pattern("astronaut", ASTRONAUT)
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_default_timeout(30_000)
            take_all(page, ui, out)
            take_jobs(page, ui, out, root)
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
