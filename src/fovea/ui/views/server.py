"""Server page: readiness and each model's status (GET /health/ready)."""

from __future__ import annotations

from collections import Counter

import streamlit as st

from fovea.ui import api


def main() -> None:
    url = api.settings().api_url
    st.title("Server")
    st.caption(f"Health of {url} (GET /health/ready).")
    if st.button("Refresh", key="server_refresh"):
        api.refresh()
    health = api.health()
    if isinstance(health, api.Failure):
        st.error(health.message)
        return
    statuses: dict[str, str] = health.get("models", {})
    if health.get("draining"):
        st.warning("Draining: the server is shutting down and takes no new work.")
    elif health.get("ready"):
        st.success("Ready: every enabled model is loaded.")
    else:
        st.warning("Not ready: a model is still loading or failed to load.")
    tally = Counter(statuses.values())
    columns = st.columns(4)
    for place, status in zip(columns, ("ready", "loading", "failed", "disabled"), strict=True):
        place.metric(status.capitalize(), tally.get(status, 0))
    st.dataframe(
        [{"model": name, "status": status} for name, status in statuses.items()],
        hide_index=True,
        width="stretch",
    )
    st.markdown(f"API docs: [{url}/docs]({url}/docs) (Swagger UI), [{url}/redoc]({url}/redoc)")


main()
