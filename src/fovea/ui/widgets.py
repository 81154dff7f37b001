"""Widgets the pages share: image and model pickers, filters, and how failures are shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from fovea.core import Detections
from fovea.ui import api, logic, render
from fovea.vision.annotators import annotate
from fovea.wire import ModelInfo

SAMPLES = Path(__file__).with_name("samples")
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]
NO_SAMPLE = "(none)"
TASK_NOUNS = {"detect": "detection", "classify": "classification", "segment": "segmentation"}
DISPLAY_SIDE = 1280  # longest side drawn on screen; downloads are full size


def sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLES.iterdir() if p.suffix.lower() in {".jpg", ".png"})


def pick_images(key: str, multiple: bool) -> list[tuple[str, bytes]]:
    """(name, bytes) of the uploaded images, else of the chosen sample photo, else nothing."""
    uploads = st.file_uploader(
        "Upload images" if multiple else "Upload an image",
        type=IMAGE_TYPES,
        accept_multiple_files=multiple,
        key=f"{key}_upload",
    )
    files: list[UploadedFile] = []
    if isinstance(uploads, list):
        files = uploads
    elif isinstance(uploads, UploadedFile):
        files = [uploads]
    sample = st.selectbox(
        "or try a sample photo",
        [NO_SAMPLE, *sample_names()],
        key=f"{key}_sample",
        disabled=bool(files),
        help="Uploads take precedence over the sample.",
    )
    if files:
        names = logic.unique_names(f.name for f in files)
        return [(name, f.getvalue()) for name, f in zip(names, files, strict=True)]
    return [] if sample == NO_SAMPLE else [(sample, (SAMPLES / sample).read_bytes())]


def pick_model(task: str, key: str, label: str = "Model") -> ModelInfo | None:
    """The /v1/models entry of a ready model of this task; None (explained) if there is none."""
    listed = api.models()
    if isinstance(listed, api.Failure):
        st.error(listed.message)
        return None
    names = logic.ready_models(listed, task)
    if not names:
        st.info(
            f"No {TASK_NOUNS.get(task, task)} model is ready on {api.settings().api_url}. "
            "The Models page lists every model, and why one failed to load."
        )
        return None
    name = st.selectbox(label, names, key=key)
    return logic.model_info(listed, name)


def detection_filters(key: str, info: ModelInfo, labels: list[str]) -> tuple[float, list[str]]:
    """Score threshold and class filter; both only filter answers already received."""
    left, right = st.columns([1, 2])
    threshold = left.slider(
        "Score threshold",
        min_value=logic.REQUEST_FLOOR,
        max_value=1.0,
        value=logic.default_threshold(info),
        step=0.01,
        key=f"{key}_threshold",
    )
    classes = right.multiselect(
        "Classes (none selected: all)", labels, key=f"{key}_classes", placeholder="all classes"
    )
    return float(threshold), list(classes)


@st.cache_data(max_entries=64, show_spinner=False)
def fitted(data: bytes, max_side: int = DISPLAY_SIDE) -> tuple[Image.Image, float] | None:
    """The decoded image made to fit the screen, and its scale from the original; decoded once
    per image, not on every slider move. None when Pillow cannot decode it here."""
    image = render.open_image(data)
    if image is None:
        return None
    small = render.fit(image, max_side)
    return small, small.width / image.width


def annotated(data: bytes, dets: Detections, max_side: int = DISPLAY_SIDE) -> Image.Image | None:
    """The on-screen picture with its detections, or None when Pillow cannot decode the image.
    Drawn on the fitted copy with the boxes scaled to it, not drawn at full size and shrunk:
    a slider move redraws only the small picture, and lines and tags come out at the weight
    the annotators choose for the size shown, as the server's /render would at that size."""
    picture = fitted(data, max_side)
    if picture is None:
        return None
    image, scale = picture
    return annotate(image, render.scaled(dets, scale))


def annotated_png(data: bytes, dets: Detections) -> Callable[[], bytes]:
    """The full-size annotated PNG, built only when its download button is clicked."""

    def build() -> bytes:
        image = render.open_image(data)
        return b"" if image is None else render.png_bytes(annotate(image, dets))

    return build


def timing_caption(answer: api.Answer[Any]) -> str:
    timing = answer.output.timing
    stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in timing.model_dump().items())
    return (
        f"Server {logic.timing_total(timing):.1f} ms ({stages}); "
        f"round trip {answer.round_trip_ms:.1f} ms"
    )


def pick_model_and_image(task: str, key: str) -> tuple[ModelInfo, str, bytes] | None:
    """A model of `task` and one image (name, bytes) for it, or None after saying what is
    missing."""
    info = pick_model(task, key=f"{key}_model")
    if info is None:
        return None
    images = pick_images(key, multiple=False)
    if not images:
        st.info("Upload an image, or pick a sample photo.")
        return None
    name, data = images[0]
    return info, name, data
