"""Jobs page: start a batch job on a server folder or an uploaded zip, follow its progress, see
counts per category and a gallery filtered by category with boxes drawn, download the results
in every format."""

from __future__ import annotations

import json
from collections.abc import Callable

import streamlit as st
from PIL import Image

from fovea.formats import BatchResults, ImageEntry, megadetector
from fovea.ui import api, jobs, widgets
from fovea.wire import JobInfo

GALLERY_COLUMNS = 4
GALLERY_SIZE = 12
FINAL = ("done", "failed", "cancelled")


def start() -> None:
    with st.expander("Start a job", expanded=not st.session_state.get("jobs_current")):
        info = widgets.pick_model("detect", key="jobs_model")
        if info is None:
            return
        where = st.radio(
            "Images", ["Server folder", "Upload a zip"], key="jobs_where", horizontal=True
        )
        folder = upload = None
        if where == "Server folder":
            folder = st.text_input(
                "Folder on the server (under FOVEA_JOBS_ROOTS)", key="jobs_folder"
            )
        else:
            upload = st.file_uploader("Zip of images", type=["zip"], key="jobs_zip")
        threshold = st.number_input(
            "Keep detections from", 0.0, 1.0, megadetector.DEFAULT_THRESHOLD, 0.005,
            format="%.3f", key="jobs_threshold",
        )  # fmt: skip
        if not st.button("Start job", key="jobs_start", disabled=not (folder or upload)):
            return
        source: dict[str, object] = {"folder": folder}
        if upload is not None:
            source = {"archive": upload.getvalue(), "archive_name": upload.name}
        started = api.call(lambda c: c.start_job(info.name, threshold=threshold, **source))
        if isinstance(started, api.Failure):
            st.error(started.message)
            return
        st.session_state["jobs_current"] = st.session_state["jobs_pick"] = started.id


@st.cache_data(max_entries=8, show_spinner=False)
def _results(api_url: str, job: str, done: int, state: str) -> bytes:
    """The results file, fetched again only when more images are done (or the state moved)."""
    return api.client().job_results(job)


@st.cache_data(max_entries=64, show_spinner=False)
def _image(api_url: str, job: str, file: str) -> bytes:
    return api.client().job_image(job, file)


def view(job: str, live: bool = False) -> None:
    """The job; `live` when it runs as a fragment that refreshes itself, until it ends."""
    info = api.call(lambda c: c.job(job))
    if isinstance(info, api.Failure):
        st.error(info.message)
        return
    if live and info.state in FINAL:
        st.rerun()  # the whole page: the job list shows the new state, and refreshing stops
    fraction, words = jobs.progress(info)
    st.progress(fraction, text=words)
    if info.state not in FINAL and st.button("Cancel job", key="jobs_cancel"):
        api.call(lambda c: c.cancel_job(job))
        st.rerun()
    url = api.settings().api_url
    body = api.call(lambda _: _results(url, job, info.done, info.state))
    if isinstance(body, api.Failure):
        st.error(body.message)
        return
    results = megadetector.load(json.loads(body))
    threshold = st.slider("Count detections from", 0.0, 1.0, 0.2, 0.05, key="jobs_view_threshold")
    st.subheader("Counts per category")
    st.dataframe(jobs.category_counts(results, threshold), hide_index=True)
    gallery(job, results, threshold)
    downloads(job, info)


def gallery(job: str, results: BatchResults, threshold: float) -> None:
    st.subheader("Gallery")
    choice = st.selectbox("Show", jobs.gallery_choices(results), key="jobs_gallery_category")
    picked = jobs.pick(results, choice, threshold, GALLERY_SIZE)
    if not picked:
        st.info("No image here yet.")
    columns = st.columns(GALLERY_COLUMNS)
    url = api.settings().api_url
    for index, entry in enumerate(picked):
        column = columns[index % GALLERY_COLUMNS]
        caption = f"{entry.file}: {entry.failure or len(entry.kept(threshold))}"
        picture = _picture(url, job, entry, results, threshold)
        if picture is None:
            column.caption(caption)
        else:
            column.image(picture, caption=caption, width="stretch")


def _picture(
    url: str, job: str, entry: ImageEntry, results: BatchResults, threshold: float
) -> Image.Image | None:
    """The entry's image with its boxes, fitted for the gallery; None if it cannot be shown."""
    data = api.call(lambda _: _image(url, job, entry.file))
    fitted = None if isinstance(data, api.Failure) else widgets.fitted(data, 400)
    if fitted is None or isinstance(data, api.Failure):
        return None
    small, scale = fitted
    size_wh = (round(small.width / scale), round(small.height / scale))
    return widgets.annotated(data, jobs.detections(entry, results, size_wh, threshold), 400)


def _fetcher(job: str, name: str) -> Callable[[], bytes]:
    client = api.client()  # now: the callable runs outside this script run, without its state
    return lambda: client.job_results(job, name)


def downloads(job: str, info: JobInfo) -> None:
    st.subheader("Downloads")
    columns = st.columns(len(jobs.FORMAT_FILES))
    for column, (name, suffix) in zip(columns, jobs.FORMAT_FILES.items(), strict=True):
        column.download_button(
            name,
            _fetcher(job, name),  # fetched when clicked
            file_name=f"{job}-{name}.{suffix}",
            key=f"jobs_download_{name}",
            on_click="ignore",
        )


def main() -> None:
    st.title("Jobs")
    st.caption(
        "Batch jobs over many images: results in MegaDetector's format (Timelapse, AddaxAI), "
        "COCO, YOLO, Pascal VOC or CSV."
    )
    start()
    listed = api.call(lambda c: c.jobs())
    if isinstance(listed, api.Failure):
        st.error(listed.message)
        return
    if not listed:
        st.info("No job yet: start one above.")
        return
    newest_first = list(reversed(listed))
    ids = [j.id for j in newest_first]
    if st.session_state.get("jobs_pick") not in ids:
        st.session_state["jobs_pick"] = ids[0]  # the newest; a job just started is picked
    labels = {j.id: jobs.job_label(j) for j in newest_first}
    job = st.selectbox("Job", ids, format_func=labels.__getitem__, key="jobs_pick")
    running = next(j for j in listed if j.id == job).state not in FINAL
    if running:
        st.fragment(view, run_every=1.0)(job, live=True)
    else:
        view(job)


main()
