"""Segmentation page: original and mask side by side, an overlay with adjustable opacity, and a
legend of each class's colour and share of the pixels."""

from __future__ import annotations

import json

import streamlit as st
from PIL import Image

from fovea.core import Mask
from fovea.ui import api, logic, widgets
from fovea.vision.annotators import MaskAnnotator


def legend(rows: list[logic.Json]) -> None:
    """Colour swatches with label and pixel share (the colours MaskAnnotator draws)."""
    lines = [
        f'<span style="display:inline-block;width:1em;height:1em;background:{r["colour"]};'
        f'border:1px solid #888;vertical-align:middle"></span> **{r["label"]}** '
        f"{r['share']:.1%}"
        for r in rows
    ]
    st.markdown("  \n".join(lines), unsafe_allow_html=True)


def main() -> None:
    st.title("Segmentation")
    st.caption("Which pixels belong to which class.")
    chosen = widgets.pick_model_and_image("segment", key="segment")
    if chosen is None:
        return
    info, name, data = chosen
    answer = api.predict(info.name, name, data, Mask)
    if isinstance(answer, api.Failure):
        st.error(answer.message)
        return
    mask = answer.result
    shown = widgets.fitted(data)
    image = None if shown is None else shown[0]
    original, classes = st.columns(2)
    if image is not None:
        original.image(image, caption=name, width="stretch")
    height, width = mask.shape_hw
    black = Image.new("RGB", (width, height) if image is None else image.size)
    classes.image(MaskAnnotator(opacity=1.0).annotate(black, mask), caption="Mask", width="stretch")
    rows = logic.mask_legend(mask)
    overlay, side = st.columns([3, 1])
    with side:
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="segment_opacity")
        legend(rows)
        st.dataframe(
            [{**r, "share": round(r["share"], 4)} for r in rows], hide_index=True, width="stretch"
        )
        st.caption(widgets.timing_caption(answer))
    if image is not None:
        blended = MaskAnnotator(opacity=opacity).annotate(image, mask)
        overlay.image(blended, caption=f"Overlay at {opacity:.0%}", width="stretch")
    stem = name.rsplit(".", 1)[0]
    body = logic.response_json(answer.response)
    left, right = st.columns(2)
    left.download_button(
        "Download mask PNG",
        logic.mask_png(answer.output),
        f"{stem}-mask.png",
        "image/png",
        on_click="ignore",
    )
    right.download_button(
        "Download JSON",
        json.dumps(body, indent=2),
        f"{stem}.json",
        "application/json",
        on_click="ignore",
    )
    with st.expander("Raw JSON"):
        st.json(body, expanded=2)


main()
