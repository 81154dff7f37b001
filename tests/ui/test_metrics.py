"""The Server page's numbers, from a /metrics text written by hand."""

from __future__ import annotations

import pytest

from fovea.ui import metrics

TEXT = """\
# TYPE fovea_http_requests counter
fovea_http_requests_total{method="POST",route="PREDICT",status="200"} 8.0
fovea_http_requests_total{method="POST",route="PREDICT",status="422"} 2.0
fovea_http_requests_total{method="GET",route="/v1/models",status="200"} 5.0
# TYPE fovea_http_request_duration_seconds histogram
fovea_http_request_duration_seconds_bucket{le="0.05",method="POST",route="PREDICT"} 2.0
fovea_http_request_duration_seconds_bucket{le="0.1",method="POST",route="PREDICT"} 6.0
fovea_http_request_duration_seconds_bucket{le="0.25",method="POST",route="PREDICT"} 10.0
fovea_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="PREDICT"} 10.0
fovea_http_request_duration_seconds_count{method="POST",route="PREDICT"} 10.0
fovea_http_request_duration_seconds_sum{method="POST",route="PREDICT"} 1.0
# TYPE fovea_images counter
fovea_images_total{model="coco",outcome="ok"} 30.0
fovea_images_total{model="coco",outcome="error"} 2.0
# TYPE fovea_batch_size histogram
fovea_batch_size_sum{model="coco"} 48.0
fovea_batch_size_count{model="coco"} 32.0
""".replace("PREDICT", metrics.PREDICT_ROUTE)


def test_snapshot_reads_predict_traffic_only() -> None:
    shot = metrics.snapshot(TEXT)
    assert shot.predict_requests == 10.0
    assert shot.latency_buckets == [(0.05, 2.0), (0.1, 6.0), (0.25, 10.0), (float("inf"), 10.0)]
    assert shot.images == {"coco": 32.0}
    assert metrics.mean_batch(shot) == {"coco": 1.5}


@pytest.mark.parametrize(("q", "expected"), [(0.1, 0.025), (0.5, 0.0875), (0.9, 0.2125)])
def test_quantile_interpolates_inside_the_bucket(q: float, expected: float) -> None:
    buckets = metrics.snapshot(TEXT).latency_buckets
    assert metrics.quantile(buckets, q) == pytest.approx(expected)


def test_quantile_of_nothing() -> None:
    assert metrics.quantile([], 0.5) is None
    assert metrics.quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None
    assert metrics.quantile([(0.1, 1.0), (float("inf"), 4.0)], 0.9) == 0.1


def test_per_second_handles_restarts() -> None:
    rates = metrics.per_second({"a": 10.0, "b": 50.0}, {"a": 30.0, "b": 5.0, "c": 4.0}, 2.0)
    assert rates == {"a": 10.0, "b": 2.5, "c": 2.0}
    assert metrics.per_second({}, {"a": 1.0}, 0) == {}
