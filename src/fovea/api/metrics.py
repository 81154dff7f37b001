"""Prometheus metrics, one registry per app (so tests can build many apps side by side)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fovea.models import Repository

# Image stages take 0.1 ms to seconds; HTTP requests (batches, URL fetches) up to a minute.
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
# Inspection offsets are fractions of the image: from a pixel of a large photo to far off.
_OFFSET_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


class Metrics:
    """Every metric Fovea exports; the names are a contract (deploy/grafana uses them)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "fovea_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "fovea_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "fovea_http_requests_in_flight", "HTTP requests being served.", registry=r
        )
        self.stage_seconds = Histogram(
            "fovea_stage_duration_seconds",
            "Time per image in each stage: decode, preprocess, queue, infer, postprocess.",
            ["model", "stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.stage_cpu = Counter(
            "fovea_stage_cpu_seconds",
            "CPU time spent per stage (the calling thread's), summed over images.",
            ["model", "stage"],
            registry=r,
        )
        self.batch_size = Histogram(
            "fovea_batch_size",
            "Images per inference batch.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.images = Counter(
            "fovea_images",
            "Images processed, by outcome (ok, error).",
            ["model", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "fovea_errors", "Errors answered, by problem type.", ["type"], registry=r
        )
        self.grpc_requests = Counter(
            "fovea_grpc_requests",
            "KServe V2 gRPC calls by method and status code.",
            ["method", "code"],
            registry=r,
        )
        self.grpc_seconds = Histogram(
            "fovea_grpc_request_duration_seconds",
            "KServe V2 gRPC call latency by method.",
            ["method"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )

        self.inspections = Counter(
            "fovea_inspections",
            "Inspections judged, by model, pattern and decision (OK, NOK).",
            ["model", "pattern", "decision"],
            registry=r,
        )
        self.inspection_positions = Counter(
            "fovea_inspection_positions",
            "Expected positions by status (found, misplaced, missing) and extra parts.",
            ["model", "pattern", "status"],
            registry=r,
        )
        self.inspection_offset = Histogram(
            "fovea_inspection_offset",
            "Offset of each found or misplaced position from its expected box, image fractions.",
            ["model", "pattern"],
            buckets=_OFFSET_BUCKETS,
            registry=r,
        )
        self.stream_connections = Counter(
            "fovea_stream_connections",
            "WebSocket streams by outcome: accepted, or the problem type that refused them.",
            ["outcome"],
            registry=r,
        )
        self.stream_frames = Counter(
            "fovea_stream_frames",
            "WebSocket stream frames by outcome: answered, dropped, error.",
            ["model", "outcome"],
            registry=r,
        )
        self.streams_open = Gauge("fovea_streams_open", "WebSocket streams open.", registry=r)

    def watch(self, repository: Repository, queue_depth: Mapping[str, object]) -> None:
        """Model status, load time and queue depth, read at scrape time."""
        self.registry.register(_ModelCollector(repository, queue_depth))

    def observe_prediction(
        self,
        model: str,
        timing_ms: Mapping[str, float],
        ok: bool,
        cpu_ms: Mapping[str, float] | None = None,
    ) -> None:
        self.images.labels(model, "ok" if ok else "error").inc()
        for stage in ("decode", "preprocess", "queue", "infer", "postprocess"):
            if stage in timing_ms:
                self.stage_seconds.labels(model, stage).observe(timing_ms[stage] / 1000)
        for stage, ms in (cpu_ms or {}).items():
            self.stage_cpu.labels(model, stage).inc(ms / 1000)

    def observe_batch(self, model: str, size: int) -> None:
        self.batch_size.labels(model).observe(size)

    def observe_inspection(
        self,
        model: str,
        pattern: str,
        decision: str,
        statuses: Mapping[str, int],
        offsets: list[float],
    ) -> None:
        self.inspections.labels(model, pattern, decision).inc()
        for status, count in statuses.items():
            self.inspection_positions.labels(model, pattern, status).inc(count)
        for offset in offsets:
            self.inspection_offset.labels(model, pattern).observe(offset)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _ModelCollector(Collector):
    def __init__(self, repository: Repository, queue_depth: Mapping[str, object]) -> None:
        self.repository, self.queue_depth = repository, queue_depth

    def collect(self) -> list[GaugeMetricFamily]:
        loaded = GaugeMetricFamily(
            "fovea_model_loaded", "1 if the model is ready, else 0.", labels=["model", "status"]
        )
        load_time = GaugeMetricFamily(
            "fovea_model_load_seconds", "Time the model took to load.", labels=["model"]
        )
        depth = GaugeMetricFamily(
            "fovea_queue_depth",
            "Images admitted and not yet answered, per model.",
            labels=["model"],
        )
        limit = GaugeMetricFamily(
            "fovea_queue_limit",
            "Images a model admits before it answers 503 (its batching.max_queue).",
            labels=["model"],
        )
        for name, entry in self.repository.entries.items():
            loaded.add_metric([name, entry.status], 1.0 if entry.status == "ready" else 0.0)
            if entry.load_ms is not None:
                load_time.add_metric([name], entry.load_ms / 1000)
            value = self.queue_depth.get(name, 0)
            depth.add_metric([name], float(value) if isinstance(value, int | float) else 0.0)
            if entry.spec is not None:
                limit.add_metric([name], float(entry.spec.batching.max_queue))
        return [loaded, load_time, depth, limit]
