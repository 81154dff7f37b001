"""Numbers for the Server page from Fovea's /metrics text: pure functions, no Streamlit."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

PREDICT_ROUTE = "/v1/models/{model}/predict"


@dataclass
class Snapshot:
    """What the page shows, read from one scrape."""

    predict_requests: float = 0.0
    latency_buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, count)
    images: dict[str, float] = field(default_factory=dict)  # per model, ok and error
    batch_sum: dict[str, float] = field(default_factory=dict)
    batch_count: dict[str, float] = field(default_factory=dict)


def snapshot(text: str) -> Snapshot:
    shot = Snapshot()
    buckets: dict[float, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "fovea_http_requests_total" and labels.get("route") == PREDICT_ROUTE:
                shot.predict_requests += value
            elif (
                name == "fovea_http_request_duration_seconds_bucket"
                and labels.get("route") == PREDICT_ROUTE
            ):
                buckets[float(labels["le"])] += value
            elif name == "fovea_images_total":
                model = labels["model"]
                shot.images[model] = shot.images.get(model, 0.0) + value
            elif name == "fovea_batch_size_sum":
                shot.batch_sum[labels["model"]] = value
            elif name == "fovea_batch_size_count":
                shot.batch_count[labels["model"]] = value
    shot.latency_buckets = sorted(buckets.items())
    return shot


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket that holds the q-th value."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_edge, lower_count = 0.0, 0.0
    for edge, count in buckets:
        if count >= rank:
            if math.isinf(edge):
                return lower_edge  # above the last finite bucket: its edge is all we know
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_edge + (edge - lower_edge) * share
        lower_edge, lower_count = edge, count
    return None


def per_second(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, float]:
    """Rate per key between two scrapes; a counter that went down (a restart) counts from 0."""
    if seconds <= 0:
        return {}
    rates = {}
    for key, value in after.items():
        previous = before.get(key, 0.0)
        rates[key] = (value - previous if value >= previous else value) / seconds
    return rates


def mean_batch(shot: Snapshot) -> dict[str, float]:
    return {m: shot.batch_sum.get(m, 0.0) / c for m, c in shot.batch_count.items() if c}
