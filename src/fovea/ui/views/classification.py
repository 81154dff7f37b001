"""Classification page: the top-k classes of one image as a bar chart."""

from __future__ import annotations

import altair as alt
import streamlit as st

from fovea.core import Classes, Params
from fovea.ui import api, logic, widgets

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


def main() -> None:
    st.title("Classification")
    st.caption("The most likely classes of one image.")
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
    shown = widgets.fitted(data)
    if shown is not None:
        picture.image(shown[0], caption=name, width="stretch")
    bars.altair_chart(chart(rows), width="stretch")
    bars.dataframe(rows, hide_index=True, width="stretch")
    bars.caption(widgets.timing_caption(answer))
    with st.expander("Raw JSON"):
        st.json(logic.response_json(answer.response), expanded=2)


main()
