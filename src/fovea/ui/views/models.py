"""Models page: every model the server knows, with task, labels, input, versions, status, and
the exact error of one that failed to load (GET /v1/models)."""

from __future__ import annotations

import streamlit as st

from fovea.ui import api, logic


def main() -> None:
    st.title("Models")
    st.caption(f"Every model of {api.settings().api_url} (GET /v1/models).")
    if st.button("Refresh", key="models_refresh"):
        api.refresh()
    listed = api.models()
    if isinstance(listed, api.Failure):
        st.error(listed.message)
        return
    for model in listed:
        if model.status in ("failed", "unavailable"):  # unavailable: a remote backend is down
            what = "failed to load" if model.status == "failed" else "is unavailable"
            st.error(f"**{model.name}** {what}: {model.error or 'no reason given'}")
    st.dataframe(logic.model_rows(listed), hide_index=True, width="stretch")
    for model in listed:
        with st.expander(f"{model.name}: {model.status}"):
            if model.description:
                st.write(model.description)
            labels = ", ".join(model.labels) or "none"
            st.markdown(f"**Labels** ({len(model.labels)}): {labels}")
            providers = ", ".join(model.providers) or "not loaded"
            st.markdown(f"**Execution providers**: {providers}")
            st.json(model.model_dump(mode="json", exclude_none=True), expanded=False)


main()
