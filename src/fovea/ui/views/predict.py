"""Predict page: detections on one image or a batch, filtered client-side, with downloads."""

from __future__ import annotations

import json

import streamlit as st

from fovea.core import Detections
from fovea.ui import api, logic, widgets
from fovea.wire import PredictResponse

GALLERY_COLUMNS = 3


def single(name: str, data: bytes, answer: api.Answer[Detections], kept: Detections) -> None:
    """One image: the annotated picture, its table, downloads and the raw answer."""
    picture, table = st.columns([3, 2])
    image = widgets.annotated(data, kept)
    if image is None:
        picture.warning(f"{name}: this browser-side view cannot decode the image.")
    else:
        picture.image(image, caption=f"{name}: {len(kept)} detections", width="stretch")
    counts = logic.counts_per_class(kept)
    table.markdown(", ".join(f"**{label}** {n}" for label, n in counts.items()) or "Nothing kept.")
    table.dataframe(logic.detection_rows(kept), hide_index=True, width="stretch")
    table.caption(widgets.timing_caption(answer))
    shown = logic.combined_response({name: answer.response}, {name: kept})
    downloads(name, shown, {name: kept}, data)
    with st.expander("Raw JSON (as the API answered, before filtering)"):
        st.json(logic.response_json(answer.response), expanded=2)


def downloads(
    stem: str, response: PredictResponse, kept: dict[str, Detections], data: bytes | None
) -> None:
    """JSON and CSV of what is shown; the annotated PNG at full size when there is one image.
    Downloads do not rerun the page, and the PNG is drawn only when asked for."""
    key = f"download_{stem}_{data is None}"
    stem = stem.rsplit(".", 1)[0]
    columns = st.columns(3)
    columns[0].download_button(
        "Download JSON",
        json.dumps(logic.response_json(response), indent=2),
        file_name=f"{stem}.json",
        mime="application/json",
        key=f"{key}_json",
        on_click="ignore",
    )
    columns[1].download_button(
        "Download CSV",
        logic.detections_csv(kept),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
    )
    if data is not None:
        columns[2].download_button(
            "Download annotated PNG",
            widgets.annotated_png(data, next(iter(kept.values()))),
            file_name=f"{stem}-annotated.png",
            mime="image/png",
            key=f"{key}_png",
            on_click="ignore",
        )


def gallery(
    images: dict[str, bytes],
    answers: dict[str, api.Answer[Detections]],
    kept: dict[str, Detections],
) -> None:
    """A batch: counts per class, thumbnails, batch downloads, and one image in detail."""
    st.subheader("Counts per class")
    st.dataframe(logic.batch_counts(kept), hide_index=True)
    columns = st.columns(GALLERY_COLUMNS)
    for index, name in enumerate(answers):
        counts = logic.counts_per_class(kept[name])
        caption = f"{name}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")
        thumbnail = widgets.annotated(images[name], kept[name], max_side=400)
        with columns[index % GALLERY_COLUMNS]:
            if thumbnail is None:
                st.caption(caption)
            else:
                st.image(thumbnail, caption=caption, width="stretch")
    responses = {name: answer.response for name, answer in answers.items()}
    downloads("detections", logic.combined_response(responses, kept), kept, None)
    st.subheader("One image in detail")
    name = st.selectbox("Image", list(answers), key="predict_inspect")
    single(name, images[name], answers[name], kept[name])


def main() -> None:
    st.title("Predict")
    st.caption(
        "Detect objects in one image or a batch. The threshold and class filter apply to the "
        f"answer at once: the API is asked once, at score {logic.REQUEST_FLOOR}."
    )
    info = widgets.pick_model("detect", key="predict_model")
    if info is None:
        return
    images = dict(widgets.pick_images("predict", multiple=True))
    if not images:
        st.info("Upload one or more images, or pick a sample photo.")
        return
    results = api.predict_many(info.name, list(images.items()), Detections, logic.FLOOR_PARAMS)
    answers = {n: a for n, a in results.items() if isinstance(a, api.Answer)}
    for name, result in results.items():
        if isinstance(result, api.Failure):
            st.error(f"{name}: {result.message}")
    if not answers:
        return
    found = logic.labels_present(a.result for a in answers.values())
    threshold, classes = widgets.detection_filters(f"predict_{info.name}", info, found)
    kept = {
        name: logic.filter_detections(a.result, threshold, classes) for name, a in answers.items()
    }
    if len(answers) == 1:
        name = next(iter(answers))
        single(name, images[name], answers[name], kept[name])
    else:
        gallery(images, answers, kept)


main()
