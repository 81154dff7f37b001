"""Server page: readiness, each model's status, and traffic from /metrics."""

from __future__ import annotations

import time
from collections import Counter

import streamlit as st

from fovea.ui import api, metrics


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
    statuses = health.models
    if health.draining:
        st.warning("Draining: the server is shutting down and takes no new work.")
    elif health.ready:
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
    _traffic()
    st.markdown(f"API docs: [{url}/docs]({url}/docs) (Swagger UI), [{url}/redoc]({url}/redoc)")


def _traffic() -> None:
    """Latency percentiles, images/s since the last refresh and batch sizes, from /metrics."""
    st.subheader("Traffic")
    text = api.call(lambda client: client.metrics())
    if isinstance(text, api.Failure):
        st.info(f"No metrics: {text.message}")
        return
    now, shot = time.monotonic(), metrics.snapshot(text)
    latency = st.columns(3)
    for place, q in zip(latency, (0.5, 0.95, 0.99), strict=True):
        value = metrics.quantile(shot.latency_buckets, q)
        label = f"predict p{round(q * 100)}"
        place.metric(label, "-" if value is None else f"{value * 1000:.0f} ms")
    previous = st.session_state.get("_metrics_previous")
    st.session_state["_metrics_previous"] = (now, shot)
    rates = (
        metrics.per_second(previous[1].images, shot.images, now - previous[0]) if previous else {}
    )
    batches = metrics.mean_batch(shot)
    rows = [
        {
            "model": m,
            "images": int(total),
            "images/s (since last refresh)": round(rates[m], 1) if m in rates else None,
            "mean batch size": round(batches[m], 2) if m in batches else None,
        }
        for m, total in shot.images.items()
    ]
    st.caption(
        f"{int(shot.predict_requests)} predict requests since the server started; "
        "latency percentiles are estimated from the histogram buckets, as Prometheus does."
    )
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")


main()
