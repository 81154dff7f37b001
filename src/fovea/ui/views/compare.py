"""Compare page: one image through two to four detectors side by side, each with its own
threshold, counts per class and timing."""

from __future__ import annotations

import streamlit as st

from fovea.core import Detections
from fovea.ui import api, logic, widgets
from fovea.wire import ModelInfo

MAX_MODELS = 4


def column(info: ModelInfo, name: str, data: bytes) -> None:
    """One model's answer: its own threshold, the picture, counts and timing."""
    model = info.name
    st.subheader(model)
    answer = api.predict(model, name, data, Detections, logic.FLOOR_PARAMS)
    if isinstance(answer, api.Failure):
        st.error(answer.message)
        return
    threshold = st.slider(
        "Score threshold",
        min_value=logic.REQUEST_FLOOR,
        max_value=1.0,
        value=logic.default_threshold(info),
        step=0.01,
        key=f"compare_{model}_threshold",
    )
    kept = logic.filter_detections(answer.result, threshold)
    image = widgets.annotated(data, kept)
    if image is not None:
        st.image(image, width="stretch")
    counts = logic.counts_per_class(kept)
    st.metric("Detections", len(kept))
    st.dataframe(
        [{"label": label, "count": n} for label, n in counts.items()],
        hide_index=True,
        width="stretch",
    )
    st.caption(widgets.timing_caption(answer))


def main() -> None:
    st.title("Compare")
    st.caption("One image through two to four detection models side by side.")
    listed = api.models()
    if isinstance(listed, api.Failure):
        st.error(listed.message)
        return
    detectors = logic.ready_models(listed, "detect")
    if len(detectors) < 2:
        st.info(f"Comparing needs two ready detection models; this server has {len(detectors)}.")
        return
    chosen = st.multiselect(
        "Models",
        detectors,
        default=detectors[:2],
        max_selections=MAX_MODELS,
        key="compare_models",
    )
    images = widgets.pick_images("compare", multiple=False)
    if len(chosen) < 2:
        st.info("Choose two to four models.")
        return
    if not images:
        st.info("Upload an image, or pick a sample photo.")
        return
    name, data = images[0]
    for model, place in zip(chosen, st.columns(len(chosen)), strict=True):
        with place:
            column(logic.model_info(listed, model), name, data)


main()
