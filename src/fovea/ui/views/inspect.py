"""Inspect page: trigger the camera (or upload an image), judge it against a pattern, and see a
large OK / NOK, the annotated picture, each position, and a strip of recent kept results; view,
upload and delete patterns."""

from __future__ import annotations

import streamlit as st

from fovea.ui import api, inspection, widgets
from fovea.wire.inspection import InspectResponse

RECENT = 6


def inspect_tab() -> None:
    info = widgets.pick_model("detect", key="inspect_model")
    if info is None:
        return
    listed = inspection.patterns(info.name)
    names = [] if isinstance(listed, api.Failure) else [p.name for p in listed if not p.error]
    pattern = st.selectbox(
        "Pattern", ["auto", *names], key="inspect_pattern", help="auto: the best fitting one."
    )
    camera, upload = st.columns([1, 2])
    if camera.button("Trigger camera", key="inspect_trigger", type="primary"):
        with st.spinner("Taking a photo…"):
            st.session_state["inspect_answer"] = inspection.trigger(info.name, pattern)
    uploaded = upload.file_uploader(
        "or upload an image", type=widgets.IMAGE_TYPES, key="inspect_upload"
    )
    asked = None if uploaded is None else (uploaded.file_id, info.name, pattern)
    if uploaded is not None and st.session_state.get("inspect_uploaded") != asked:
        st.session_state["inspect_uploaded"] = asked  # a new upload, model or pattern: judge it
        answer = inspection.inspect_upload(info.name, pattern, uploaded.name, uploaded.getvalue())
        st.session_state["inspect_answer"] = answer
    shown = st.session_state.get("inspect_answer")
    if isinstance(shown, api.Failure):
        st.error(shown.message)
    elif isinstance(shown, InspectResponse):
        result(shown)
    else:
        st.info("Trigger the camera, or upload an image, to inspect it.")
    recent()


def result(answer: InspectResponse) -> None:
    st.markdown(inspection.banner_html(answer), unsafe_allow_html=True)
    picture, table = st.columns([3, 2])
    image = inspection.annotated(answer)
    if image is not None:
        caption = f"{answer.image_id}: {answer.pattern}, {answer.decision}"
        picture.image(image, caption=caption, width="stretch")
    picture.markdown(inspection.status_legend(), unsafe_allow_html=True)
    table.dataframe(inspection.position_rows(answer), hide_index=True, width="stretch")
    if answer.counts:
        table.dataframe(inspection.count_rows(answer), hide_index=True, width="stretch")
    timing = answer.timing
    camera = f"camera {timing.camera:.0f} ms, " if timing.camera is not None else ""
    table.caption(
        f"{camera}model {timing.decode + timing.preprocess + timing.infer + timing.postprocess:.0f}"
        f" ms, match {timing.match:.1f} ms. " + ("Kept as a record." if answer.recorded else "")
    )
    with st.expander("Raw JSON"):
        st.json(answer.model_dump(mode="json", exclude={"annotated"}), expanded=1)


def recent() -> None:
    st.subheader("Recent results")
    kept = inspection.recent(RECENT)
    if isinstance(kept, api.Failure):
        st.info(f"No history: {kept.message}")
        return
    if not kept:
        st.caption("No kept inspection yet (the server keeps NOK ones by default).")
        return
    columns = st.columns(RECENT)
    for place, summary in zip(columns, kept, strict=False):
        thumbnail = inspection.photo_thumbnail(summary.id)
        if thumbnail is not None:
            place.image(thumbnail, caption=inspection.strip_caption(summary), width="stretch")
        else:
            place.caption(inspection.strip_caption(summary))


def patterns_tab() -> None:
    flash = st.session_state.pop("patterns_flash", None)  # said before the rerun that shows it
    if flash:
        st.success(flash)
    listed = inspection.patterns()
    if isinstance(listed, api.Failure):
        st.error(listed.message)
        return
    if listed:
        st.dataframe(inspection.pattern_rows(listed), hide_index=True, width="stretch")
        name = st.selectbox("View", [p.name for p in listed], key="patterns_view")
        detail = inspection.pattern(name)
        if isinstance(detail, api.Failure):
            st.error(detail.message)
        else:
            st.code(detail.toml, language="toml")
        if st.button(f"Delete {name}", key="patterns_delete"):
            deleted = inspection.delete_pattern(name)
            if isinstance(deleted, api.Failure):
                st.error(deleted.message)
            else:
                st.session_state["patterns_flash"] = f"Deleted {name}."
                st.rerun()
    else:
        st.info("No pattern yet: upload one below, or learn one with `fovea patterns learn`.")
    upload_pattern()


def upload_pattern() -> None:
    st.subheader("Upload a pattern")
    file = st.file_uploader("Pattern (TOML)", type=["toml"], key="patterns_upload")
    default = file.name.rsplit(".", 1)[0] if file is not None else ""
    name = st.text_input("Name", value=default, key=f"patterns_name_{default}")
    if st.button("Save pattern", key="patterns_save", disabled=file is None or not name):
        assert file is not None
        saved = inspection.save_pattern(name, file.getvalue().decode("utf-8", "replace"))
        if isinstance(saved, api.Failure):
            st.error(saved.message)
        else:
            positions = len(saved.pattern.objects)
            st.session_state["patterns_flash"] = f"Saved {saved.name}: {positions} positions."
            st.rerun()


def main() -> None:
    st.title("Inspect")
    st.caption(
        "Judge an assembly against its expected pattern of parts: every part present, in "
        "place, nothing extra."
    )
    judge, manage = st.tabs(["Inspect", "Patterns"])
    with judge:
        inspect_tab()
    with manage:
        patterns_tab()


main()
