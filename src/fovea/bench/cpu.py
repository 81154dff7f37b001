"""Where a server's CPU goes per image: each stage's CPU from Fovea's own counters
(`fovea_stage_cpu_seconds_total`), and the rest of the process (HTTP, JSON, the event loop) per
request, from the operating system's count for the whole process."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fovea.bench.server import cpu_seconds

STAGES = ("decode", "preprocess", "infer", "postprocess")


@dataclass(frozen=True)
class CpuSample:
    stages_s: dict[str, float]
    process_s: float | None


@dataclass(frozen=True)
class CpuPerImage:
    """Milliseconds of CPU per image for each stage, and per request for everything else."""

    stages_ms: dict[str, float]
    other_per_request_ms: float | None


def sample(url: str, model: str, pid: int | None) -> CpuSample:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    stages = dict.fromkeys(STAGES, 0.0)
    for family in text_string_to_metric_families(text):
        if family.name != "fovea_stage_cpu_seconds":
            continue
        for s in family.samples:
            if s.name.endswith("_total") and s.labels.get("model") == model:
                stages[s.labels["stage"]] = s.value
    return CpuSample(stages, cpu_seconds(pid) if pid is not None else None)


def per_image(before: CpuSample, after: CpuSample, images: int, requests: int) -> CpuPerImage:
    spent = {k: after.stages_s.get(k, 0.0) - before.stages_s.get(k, 0.0) for k in STAGES}
    stages_ms = {k: round(v * 1000 / max(images, 1), 2) for k, v in spent.items()}
    other = None
    if before.process_s is not None and after.process_s is not None:
        rest = (after.process_s - before.process_s) - sum(spent.values())
        other = round(rest * 1000 / max(requests, 1), 2)
    return CpuPerImage(stages_ms, other)
