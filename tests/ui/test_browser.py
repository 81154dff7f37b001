"""The whole path in a real browser: API and UI as subprocesses, Debian's Chromium driven
headless by Playwright; the tests read back what a user sees: tables, captions and pictures."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from fovea.ui.widgets import SAMPLES
from tests.ui.browser import NATURAL_SIZE, choose, grid_cells, wait_idle
from tests.ui.servers import api_server, demo_repository, ui_server
from tests.video.clips import Clips

# Resolves once the picture has loaded and decoded (rejects for a broken one): its natural size.
# Resolves once the video's first frame has decoded (rejects with the media error code): its
# duration, its size, and the mean brightness (0..765) of that frame drawn onto a canvas.
FIRST_FRAME = """async video => {
  if (video.readyState < 2) {
    await new Promise((ok, bad) => {
      video.addEventListener("loadeddata", ok, {once: true});
      video.addEventListener("error", () => bad(new Error("media error " + video.error.code)));
    });
  }
  // A loaded video may not have painted its frame yet on a busy machine: seek into it, then
  // read the picture until it is there (bounded: 3 s).
  video.currentTime = 0.3;
  await new Promise(ok => video.addEventListener("seeked", ok, {once: true}));
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  let mean = 0;
  for (let attempt = 0; attempt < 30 && mean === 0; attempt++) {
    if (attempt) await new Promise(ok => setTimeout(ok, 100));
    context.drawImage(video, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
    mean = sum / (pixels.length / 4);
  }
  return [video.duration, video.videoWidth, video.videoHeight, mean];
}"""


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser-servers")
    with api_server(demo_repository(root), root) as api, ui_server(api, root) as ui:
        yield ui


def open_page(page: Page, url: str, title: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title).wait_for()
    wait_idle(page)


def picture_size(page: Page, caption: str | re.Pattern[str]) -> tuple[int, int]:
    """The natural size of the st.image with this caption, once it has loaded."""
    figure = page.get_by_test_id("stImage").filter(has_text=caption)
    width, height = figure.locator("img").evaluate(NATURAL_SIZE)
    return int(width), int(height)


def test_predict_shows_the_cat_in_the_sample_photo(page: Page, ui_url: str) -> None:
    open_page(page, ui_url, "Predict")  # the default page
    choose(page, "Model", "coco")
    choose(page, "or try a sample photo", "chelsea.jpg")
    cells = grid_cells(page)
    cells.filter(has_text=re.compile(r"^cat$")).first.wait_for(state="attached")
    wait_idle(page)
    assert "cat" in cells.all_inner_texts()
    caption = page.get_by_text(re.compile(r"^chelsea\.jpg: \d+ detections$"))
    found = int(caption.inner_text().split(": ")[1].split()[0])
    texts = cells.all_inner_texts()
    assert len(texts) == 6 * found  # label, score, x1, y1, x2, y2: one row per detection
    # The annotated picture loaded, at the photo's own size (it fits the screen unscaled).
    with Image.open(SAMPLES / "chelsea.jpg") as photo:
        assert picture_size(page, re.compile(r"^chelsea\.jpg: ")) == photo.size
    buttons = page.get_by_test_id("stDownloadButton")
    expect(buttons).to_have_count(3)  # drawn one after another
    assert buttons.all_inner_texts() == ["Download JSON", "Download CSV", "Download annotated PNG"]


def test_predict_with_a_pipeline_names_the_species_of_the_animal(page: Page, ui_url: str) -> None:
    open_page(page, ui_url, "Predict")
    choose(page, "Model", "camtrap-species")
    choose(page, "or try a sample photo", "chelsea.jpg")
    cells = grid_cells(page)
    cells.filter(has_text=re.compile(r"^animal$")).first.wait_for(state="attached")
    wait_idle(page)
    texts = cells.all_inner_texts()
    row = texts.index("animal")
    assert texts[row + 1] == "cat"  # the class column, beside the detector's label


def picture_pixels(page: Page, caption: str | re.Pattern[str]) -> np.ndarray[Any, Any]:
    """The RGB pixels of the st.image with this caption, as the browser received them (a rerun
    replaces a picture's file: ask again until the page holds still)."""
    figure = page.get_by_test_id("stImage").filter(has_text=caption).locator("img")
    for _ in range(50):
        wait_idle(page)
        source = figure.get_attribute("src")
        answer = page.request.get(urljoin(page.url, source or ""))
        if answer.ok:
            with Image.open(io.BytesIO(answer.body())) as picture:
                return np.asarray(picture.convert("RGB"))
        page.wait_for_timeout(200)
    raise AssertionError(f"the picture captioned {caption!r} never loaded")


def test_classification_names_the_cat_and_shows_where_it_looked(page: Page, ui_url: str) -> None:
    open_page(page, f"{ui_url}/classification", "Classification")
    choose(page, "or try a sample photo", "chelsea.jpg")  # imagenet: the one classifier
    page.get_by_test_id("stVegaLiteChart").wait_for()
    cells = grid_cells(page)
    cells.first.wait_for(state="attached")
    wait_idle(page)
    texts = cells.all_inner_texts()
    assert texts[0] == "Egyptian cat"  # the top row: label, then score
    assert float(texts[1]) > 0.5
    scorecam = re.compile(
        r"^Score-CAM: where the model looked for Egyptian cat \(0\.7\d\); 32 model runs"
    )
    page.get_by_text(scorecam).wait_for()
    # The overlay is the photo at its own size, darkened where the model did not look: the
    # background strip right of the cat's hand-labelled box (x >= 398) more than the cat.
    overlay = picture_pixels(page, scorecam).astype(float)
    with Image.open(SAMPLES / "chelsea.jpg") as photo:
        original = np.asarray(photo.convert("RGB")).astype(float)
    assert overlay.shape == original.shape == (300, 451, 3)
    change = (overlay - original).sum(axis=2)
    assert change[:, :398].mean() > change[:, 398:].mean()

    choose(page, "Explanation", "Occlusion")
    occlusion = re.compile(r"^Occlusion: where the model looked for Egyptian cat .*64 model runs")
    page.get_by_text(occlusion).wait_for()
    # The opacity slider redraws at once: at 0 the overlay is the photo itself.
    drawn = page.get_by_test_id("stImage").filter(has_text=occlusion).locator("img")
    before = drawn.get_attribute("src")
    slider = page.get_by_role("slider", name="Heatmap opacity")
    slider.focus()
    for _ in range(10):  # 0.50 -> 0.00 in steps of 0.05
        slider.press("ArrowLeft")
    expect(slider).to_have_attribute("aria-valuetext", "0.00")
    expect(drawn).not_to_have_attribute("src", before or "")  # redrawn
    plain = picture_pixels(page, occlusion).astype(float)
    assert np.abs(plain - original).mean() < 2  # as the browser got it (JPEG)


def test_video_page_plays_the_annotated_video(page: Page, ui_url: str, clips: Clips) -> None:
    open_page(page, f"{ui_url}/video", "Video")
    choose(page, "Model", "coco")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(clips.mp4)
    video = page.locator("video")
    video.wait_for(timeout=180_000)  # the server analyses the clip twice: NDJSON, then MP4
    wait_idle(page)
    duration, width, height, brightness = video.evaluate(FIRST_FRAME)
    assert duration == pytest.approx(1.4, abs=0.25)  # 8 frames at 5 fps
    assert (width, height) == (320, 240)
    assert 40 < brightness < 700  # a real picture, not a black or blank frame
    page.get_by_test_id("stVegaLiteChart").wait_for()
    cells = grid_cells(page)
    cells.first.wait_for(state="attached")
    assert "person" in cells.all_inner_texts()  # the astronaut, tracked
    buttons = page.get_by_test_id("stDownloadButton")
    expect(buttons).to_have_count(2)
    assert buttons.all_inner_texts() == ["Download NDJSON", "Download annotated MP4"]
