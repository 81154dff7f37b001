"""The Jobs page: by AppTest against a real API over the synthetic models, and in Chromium
against the bundled camera-trap model on real photos, reading back what a user sees."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

from fovea.formats import BatchDetection, BatchResults, ImageEntry, megadetector
from fovea.ui import jobs, launch
from fovea.wire import JobInfo
from tests.jobs.camera import nested_folder, planted_folder
from tests.ui.browser import choose, grid_cells, wait_idle
from tests.ui.servers import api_server, demo_repository, ui_server


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-roots")


@pytest.fixture(scope="module")
def jobs_api(
    model_repo: Path, roots: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with api_server(
        model_repo, tmp_path_factory.mktemp("jobs-api"), FOVEA_JOBS_ROOTS=str(roots)
    ) as url:
        yield url


def open_jobs(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("FOVEA_API_URL", url)
    monkeypatch.delenv("FOVEA_API_KEY", raising=False)
    app = AppTest.from_file(str(launch.APP), default_timeout=30).run()
    app.switch_page("views/jobs.py").run()
    assert not app.exception
    return app


def run_until_done(app: AppTest) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        app.run()
        assert not app.exception
        if any(p.proto.text.startswith("done:") for p in app.get("progress")):
            return
        time.sleep(0.2)
    raise AssertionError("the job did not finish within 60 s")


def test_start_a_folder_job_and_see_counts_gallery_and_downloads(
    jobs_api: str, roots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = planted_folder(roots / "page", 3)
    (folder / "site" / "broken.jpg").write_bytes(b"nope")
    app = open_jobs(jobs_api, monkeypatch)
    assert [i.value for i in app.info] == ["No job yet: start one above."]
    app.selectbox(key="jobs_model").set_value("yolov8-test").run()
    app.text_input(key="jobs_folder").set_value(str(folder)).run()
    app.button(key="jobs_start").click().run()
    run_until_done(app)
    assert app.get("progress")[0].proto.text.startswith("done: 4 of 4 images, 1 failed")
    counts = app.dataframe[0].value.to_dict("records")
    assert counts == [
        {"category": "cat", "images": 0, "detections": 0},
        {"category": "dog", "images": 3, "detections": 3},
        {"category": "person", "images": 3, "detections": 3},
        {"category": "empty", "images": 0, "detections": 0},
        {"category": "failed", "images": 1, "detections": 0},
    ]
    pictures = [*app.get("image"), *app.get("imgs")]
    assert [p.proto.imgs[0].caption for p in pictures] == [
        f"site/img-000{n}.jpg: 2" for n in range(3)
    ]
    app.selectbox(key="jobs_gallery_category").set_value("failed").run()
    assert [c.value for c in app.caption if "broken" in c.value] == [
        "site/broken.jpg: image access failure"
    ]
    labels = [str(b.proto.label) for b in app.get("download_button")]
    assert labels == ["megadetector", "coco", "yolo", "voc", "csv"]


def test_a_refused_folder_says_why(jobs_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_jobs(jobs_api, monkeypatch)
    app.selectbox(key="jobs_model").set_value("yolov8-test").run()
    app.text_input(key="jobs_folder").set_value("/etc").run()
    app.button(key="jobs_start").click().run()
    assert any("Folder refused (HTTP 403)" in e.value for e in app.error)


def test_page_logic() -> None:
    results = BatchResults(
        [
            ImageEntry(
                "a.jpg",
                (
                    BatchDetection("1", 0.9, (0.5, 0.5, 0.5, 0.5)),
                    BatchDetection("2", 0.1, (0, 0, 1, 1)),
                ),
            ),
            ImageEntry("b.jpg", ()),
            megadetector.failure_entry("c.jpg"),
        ],
        {"1": "animal", "2": "person"},
    )
    assert jobs.category_counts(results, 0.2)[:3] == [
        {"category": "animal", "images": 1, "detections": 1},
        {"category": "person", "images": 0, "detections": 0},
        {"category": "empty", "images": 1, "detections": 0},
    ]
    assert [e.file for e in jobs.pick(results, "empty", 0.2, 10)] == ["b.jpg"]
    assert [e.file for e in jobs.pick(results, "person", 0.05, 10)] == ["a.jpg"]
    assert [e.file for e in jobs.pick(results, jobs.ALL, 0.2, 2)] == ["a.jpg", "b.jpg"]
    dets = jobs.detections(results.images[0], results, (200, 100), 0.05)
    assert dets.class_name == ["animal", "person"]
    assert dets.xyxy.tolist() == [[100, 50, 200, 100], [0, 0, 200, 100]]
    info = JobInfo(
        id="j",
        state="running",
        model="m",
        source={"urls": 3},
        total=4,
        done=1,
        failed=0,
        images_per_s=2.0,
        eta_s=1.5,
        created=0,
    )
    assert jobs.progress(info) == (
        0.25,
        "running: 1 of 4 images, 0 failed, 2.0 img/s, about 2 s left",
    )
    assert jobs.job_label(info) == "j: m on 3 URLs (running)"


def test_jobs_page_in_chromium(tmp_path: Path, page: Page) -> None:
    """Upload a zip of real camera photos, start, and see the animal counted and drawn."""
    traps = nested_folder(tmp_path / "traps")
    archive = tmp_path / "traps.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(traps.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(traps).as_posix())
    with (
        api_server(
            demo_repository(tmp_path), tmp_path, FOVEA_DATA_DIR=str(tmp_path / "data")
        ) as api,
        ui_server(api, tmp_path) as ui,
    ):
        page.goto(f"{ui}/jobs")
        page.get_by_role("heading", name="Jobs").wait_for()
        wait_idle(page)
        choose(page, "Model", "coco-camtrap")
        page.get_by_text("Upload a zip").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(archive)
        page.get_by_text("traps.zip").wait_for()
        wait_idle(page)
        start = page.get_by_role("button", name="Start job")
        page.wait_for_function("b => !b.disabled", arg=start.element_handle())
        start.click()
        page.get_by_text(re.compile(r"^done: 6 of 6 images, 2 failed")).wait_for(timeout=60_000)
        wait_idle(page)
        cells = grid_cells(page)
        cells.first.wait_for(state="attached")
        texts = cells.all_inner_texts()
        assert texts[:3] == ["animal", "1", texts[2]]  # the cat, in one image
        captions = page.get_by_test_id("stImageCaption").all_inner_texts()
        assert "cam1/a.jpg: 1" in [c.strip() for c in captions]
        buttons = page.get_by_test_id("stDownloadButton")
        expect(buttons).to_have_count(5)  # drawn one after another
        assert buttons.all_inner_texts() == ["megadetector", "coco", "yolo", "voc", "csv"]
        with page.expect_download() as download:
            page.get_by_role("button", name="csv", exact=True).click()
        body = Path(download.value.path()).read_text()
        assert body.startswith("file,width,height")
        assert "cam2/zero.jpg" in body
