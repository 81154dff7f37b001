"""Benchmark results as markdown, JSON and a plot of throughput and p99 against concurrency."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from fovea.bench.ceiling import CeilingResult
from fovea.bench.cpu import STAGES, CpuPerImage
from fovea.bench.load import LoadResult


@dataclass(frozen=True)
class Row:
    concurrency: int
    images_per_request: int
    images_per_s: float
    ratio_to_ceiling: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    client_cpu_s: float
    server_rss_mb: float | None
    ratio_to_model_only: float = 0.0
    cpu_ms: dict[str, float] | None = None  # per image, each stage
    other_cpu_ms_per_request: float | None = None  # HTTP, JSON, the event loop
    model_only_per_s: float = 0.0  # the model-only limit, measured right before this row


def row_of(
    load: LoadResult,
    ceiling: float,
    model_only: float,
    rss_mb: float | None,
    spent: CpuPerImage | None = None,
) -> Row:
    return Row(
        load.concurrency,
        load.images_per_request,
        round(load.images_per_s, 1),
        round(load.images_per_s / ceiling, 3),
        round(load.percentile(50), 1),
        round(load.percentile(95), 1),
        round(load.percentile(99), 1),
        load.requests,
        load.errors,
        round(load.client_cpu_s, 1),
        None if rss_mb is None else round(rss_mb, 1),
        round(load.images_per_s / model_only, 3),
        None if spent is None else spent.stages_ms,
        None if spent is None else spent.other_per_request_ms,
        round(model_only, 1),
    )


def markdown(rows: list[Row], ceilings: list[CeilingResult], command: str) -> str:
    pipeline = [c for c in ceilings if not c.model_only]
    limits = [c for c in ceilings if c.model_only]
    best = max(pipeline, key=lambda c: c.images_per_s)
    lines = [
        f"Command: `{command}`",
        "",
        "In-process ceilings, no server: the whole pipeline (decode + preprocess + infer +",
        "postprocess), and the model-only limit (the session alone on a ready tensor):",
        "",
        "| what | workers | threads each | img/s | ms per image (one worker) |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {'model only' if c.model_only else 'pipeline'} | {c.workers} "
            f"| {c.threads_per_worker} | {c.images_per_s:.1f} | {c.ms_per_image:.1f} |"
            for c in [*limits, *pipeline]
        ),
        "",
        f"Best pipeline: {best.images_per_s:.1f} img/s "
        f"({best.workers} x {best.threads_per_worker} threads).",
        "",
        "The model-only limit is measured again right before each row (`model-only img/s`);",
        "`x model-only` divides by that figure.",
        "",
        "| clients | images/request | img/s | x ceiling | model-only img/s | x model-only | p50 ms "
        "| p95 ms | p99 ms | requests | errors | generator CPU s | server RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.concurrency} | {r.images_per_request} | {r.images_per_s} | {r.ratio_to_ceiling} "
            f"| {r.model_only_per_s} | {r.ratio_to_model_only} | {r.p50_ms} | {r.p95_ms} "
            f"| {r.p99_ms} | {r.requests} "
            f"| {r.errors} | {r.client_cpu_s} | {_or_dash(r.server_rss_mb)} |"
            for r in rows
        ),
        "",
        "Server CPU per image by stage (ms; the calling thread's), and the rest of the process",
        "per request (HTTP, multipart, JSON, the event loop, other threads):",
        "",
        "| clients | images/request | decode | preprocess | infer | postprocess "
        "| other per request |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.concurrency} | {r.images_per_request} | "
            + " | ".join(_or_dash((r.cpu_ms or {}).get(k)) for k in STAGES)
            + f" | {_or_dash(r.other_cpu_ms_per_request)} |"
            for r in rows
        ),
    ]
    return "\n".join(lines) + "\n"


def _or_dash(value: float | None) -> str:
    return "-" if value is None else str(value)


def write(
    out_dir: Path, rows: list[Row], ceilings: list[CeilingResult], command: str
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "bench.md", out_dir / "bench.json"]
    written[0].write_text(markdown(rows, ceilings, command))
    body = {
        "command": command,
        "ceiling": [asdict(c) for c in ceilings],
        "rows": [asdict(r) for r in rows],
    }
    written[1].write_text(json.dumps(body, indent=2) + "\n")
    if (plot := _plot(out_dir / "bench.png", rows, ceilings)) is not None:
        written.append(plot)
    return written


def _plot(path: Path, rows: list[Row], ceilings: list[CeilingResult]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the plot is optional: pip install 'fovea-serve[bench]'
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for per_request in sorted({r.images_per_request for r in rows}):
        subset = [r for r in rows if r.images_per_request == per_request]
        x = [r.concurrency for r in subset]
        left.plot(
            x, [r.images_per_s for r in subset], marker="o", label=f"{per_request} image(s)/request"
        )
        right.plot(
            x, [r.p99_ms for r in subset], marker="o", label=f"{per_request} image(s)/request"
        )
    left.axhline(
        max(c.images_per_s for c in ceilings if not c.model_only),
        linestyle="--",
        color="grey",
        label="in-process ceiling",
    )
    for axis, title in ((left, "throughput (img/s)"), (right, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent clients")
        axis.set_title(title)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
