"""Video page: one clip through a detector, tracked; the annotated video, counts per class over
time, the tracked objects, and downloads."""

from __future__ import annotations

import altair as alt
import streamlit as st

from fovea.ui import api, timeline, widgets

VIDEO_TYPES = ["mp4", "webm", "avi", "mov", "mkv", "m4v"]


def chart(rows: list[timeline.Json]) -> alt.Chart:
    lines: alt.Chart = (
        alt.Chart({"values": rows})
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("count:Q", title="objects in the frame", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color("label:N", title="class"),
            tooltip=["time_s:Q", "label:N", "count:Q"],
        )
        .properties(height=260)
    )
    return lines


def main() -> None:
    st.title("Video")
    st.caption(
        "Run a detector over a clip: the server decodes it, tracks objects across frames, and "
        "draws them on the video."
    )
    info = widgets.pick_model("detect", key="video_model")
    if info is None:
        return
    upload = st.file_uploader("Upload a video", type=VIDEO_TYPES, key="video_upload")
    left, right = st.columns(2)
    fps = left.number_input(
        "Frames per second to analyse",
        min_value=0.5,
        max_value=60.0,
        value=5.0,
        step=0.5,
        key="video_fps",
        help="Fewer frames answer sooner; the annotated video plays at this rate.",
    )
    track = right.checkbox("Track objects across frames", value=True, key="video_track")
    if upload is None:
        st.info("Upload a clip: MP4, WebM, AVI, MOV or MKV.")
        return
    name, data = upload.name, upload.getvalue()
    with st.spinner(f"Analysing {name} ..."):
        result = api.video(info.name, data, float(fps), bool(track))
    if isinstance(result, api.Failure):
        st.error(result.message)
        return
    answer = result.answer
    if answer.error is not None:
        st.warning(
            f"The video stopped early: {answer.error.problem.detail} "
            f"({len(answer.frames)} frames were analysed; no annotated video)."
        )
    if result.mp4 is not None:
        st.video(result.mp4, format="video/mp4")
    st.caption(f"{name}: {timeline.headline(answer)}")
    st.subheader("Objects per class over time")
    rows = timeline.counts_over_time(answer)
    if rows:
        st.altair_chart(chart(rows), width="stretch")
    else:
        st.write("Nothing was detected.")
    if track:
        st.subheader("Tracked objects")
        st.dataframe(timeline.tracked_objects(answer), hide_index=True, width="stretch")
    stem = name.rsplit(".", 1)[0]
    columns = st.columns(2)
    columns[0].download_button(
        "Download NDJSON",
        timeline.ndjson_text(answer),
        file_name=f"{stem}.ndjson",
        mime="application/x-ndjson",
        key="video_download_ndjson",
        on_click="ignore",
    )
    if result.mp4 is not None:
        columns[1].download_button(
            "Download annotated MP4",
            result.mp4,
            file_name=f"{stem}-annotated.mp4",
            mime="video/mp4",
            key="video_download_mp4",
            on_click="ignore",
        )


main()
