"""Fovea's web UI: `streamlit run` this file (or `fovea ui`). It reaches the API at FOVEA_API_URL
through `fovea.client` and never imports the runtime, so the server may be remote.
"""

from __future__ import annotations

import streamlit as st

from fovea.ui import api
from fovea.ui.config import load_settings

PAGES = [
    st.Page("views/predict.py", title="Predict", icon=":material/center_focus_strong:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("views/segmentation.py", title="Segmentation", icon=":material/layers:"),
    st.Page("views/classification.py", title="Classification", icon=":material/bar_chart:"),
    st.Page("views/inspect.py", title="Inspect", icon=":material/fact_check:"),
    st.Page("views/video.py", title="Video", icon=":material/movie:"),
    st.Page("views/models.py", title="Models", icon=":material/deployed_code:"),
    st.Page("views/server.py", title="Server", icon=":material/dns:"),
    st.Page("views/jobs.py", title="Jobs", icon=":material/photo_library:"),
]


def sidebar() -> None:
    st.sidebar.text_input(
        "API URL",
        value=load_settings().api_url,
        key="api_url",
        help="Fovea API this UI talks to; default from FOVEA_API_URL (or .env).",
    )


def connection_banner() -> bool:
    """A banner when the API cannot be reached or is not ready; False when it cannot be used."""
    health = api.health()
    if isinstance(health, api.Failure):
        st.error(health.message, icon=":material/cloud_off:")
        return False
    if health.draining:
        st.warning("The API is shutting down (draining): it takes no new work.")
    elif not health.ready:
        waiting = [name for name, status in health.models.items() if status != "ready"]
        st.warning(f"Not every model is ready yet: {', '.join(waiting)}. See the Models page.")
    return True


def main() -> None:
    st.set_page_config(page_title="Fovea", page_icon=":material/visibility:", layout="wide")
    navigation = st.navigation(PAGES)
    sidebar()
    if connection_banner():
        navigation.run()


main()
