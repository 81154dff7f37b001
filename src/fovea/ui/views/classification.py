"""Classification page: the top-k classes of one image as bars, and where the model looked for
one of them: an explanation's heatmap over the image, with a method choice and an opacity
slider (the slider redraws; only a new method or class asks the API again)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from fovea.core import Classes, ExplainParams, Params
from fovea.ui import api, logic, widgets
from fovea.vision.annotators import HeatmapAnnotator
from fovea.wire import ModelInfo

MOST = 20  # classes asked for once; the k slider then only slices


def chart(rows: list[logic.Json]) -> alt.Chart:
    bars: alt.Chart = (
        alt.Chart({"values": rows})
        .mark_bar()
        .encode(
            x=alt.X("score:Q", scale=alt.Scale(domain=[0, 1]), title="score"),
            y=alt.Y("label:N", sort="-x", title=None),
            tooltip=["label:N", alt.Tooltip("score:Q", format=".3f")],
        )
        .properties(height=max(120, 32 * len(rows)))
    )
    return bars


def explanation(info: ModelInfo, name: str, data: bytes, labels: list[str]) -> None:
    """The image with the chosen method's heatmap over it, at the chosen opacity."""
    shown = widgets.fitted(data)
    if not info.explain_methods or shown is None:
        if shown is not None:
            st.image(shown[0], caption=name, width="stretch")
        return
    method_column, class_column = st.columns(2)
    method = method_column.selectbox(
        "Explanation",
        info.explain_methods,
        format_func=logic.method_name,
        key=f"classify_{info.name}_method",
        help="Score-CAM masks the image with the model's own feature maps; RISE with random "
        "masks; occlusion slides a blank square. Each runs the model dozens of times.",
    )
    target = class_column.selectbox("Class", labels, key=f"classify_{info.name}_target")
    opacity = st.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="classify_opacity")
    with st.spinner(f"Explaining {target} with {logic.method_name(method)}..."):
        answer = api.explain(info.name, data, ExplainParams(method=method, target=target))
    if isinstance(answer, api.Failure):
        st.warning(answer.message)
        st.image(shown[0], caption=name, width="stretch")
        return
    overlay = HeatmapAnnotator(opacity=opacity).annotate(shown[0], answer.heatmap)
    st.image(overlay, caption=logic.explanation_caption(answer.response), width="stretch")


def main() -> None:
    st.title("Classification")
    st.caption("The most likely classes of one image, and where the model looked for them.")
    chosen = widgets.pick_model_and_image("classify", key="classify")
    if chosen is None:
        return
    info, name, data = chosen
    most = max(1, min(MOST, len(info.labels) or MOST))
    answer = api.predict(info.name, name, data, Classes, Params(top_k=most))
    if isinstance(answer, api.Failure):
        st.error(answer.message)
        return
    scores = answer.result
    default_k = int(info.postprocess.get("top_k", 5))
    k = min(default_k, len(scores)) or 1
    if len(scores) > 1:
        k = st.slider("Top k", 1, len(scores), k, key=f"classify_{info.name}_k")
    rows = logic.top_k_rows(scores, k)
    picture, bars = st.columns([2, 3])
    with picture:
        explanation(info, name, data, [row["label"] for row in rows])
    bars.altair_chart(chart(rows), width="stretch")
    bars.dataframe(rows, hide_index=True, width="stretch")
    bars.caption(widgets.timing_caption(answer))
    with st.expander("Raw JSON"):
        st.json(logic.response_json(answer.response), expanded=2)


main()
