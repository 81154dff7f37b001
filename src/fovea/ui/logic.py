"""Data shaping for the UI: plain functions on the API's JSON (see `fovea.api.schemas`), so the
pages stay thin and every rule here is unit-tested without Streamlit or a server.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from fovea.client import APIError

Json = dict[str, Any]

# The UI asks once with this low threshold, then filters client-side so sliders are instant.
REQUEST_FLOOR = 0.05
CSV_COLUMNS = ("image", "label", "class_id", "score", "x1", "y1", "x2", "y2")


def filter_detections(
    detections: Iterable[Json], threshold: float, classes: Collection[str] | None = None
) -> list[Json]:
    """Detections scoring at least `threshold`, of the given labels (none or empty: all)."""
    return [
        d for d in detections if d["score"] >= threshold and (not classes or d["label"] in classes)
    ]


def filtered_output(output: Json, threshold: float, classes: Collection[str] | None) -> Json:
    """A copy of one API output with its detections filtered; other fields unchanged."""
    kept = filter_detections(output.get("detections") or [], threshold, classes)
    return {**output, "detections": kept}


def counts_per_class(detections: Iterable[Json]) -> dict[str, int]:
    """Label -> count, most frequent first, ties by label."""
    counts = Counter(d["label"] for d in detections)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def labels_present(outputs: Iterable[Json]) -> list[str]:
    return sorted({d["label"] for o in outputs for d in o.get("detections") or []})


def detection_rows(detections: Iterable[Json]) -> list[Json]:
    """Table rows: label, score and the box in pixels, rounded for reading."""
    return [
        {
            "label": d["label"],
            "score": round(d["score"], 3),
            **dict(zip(CSV_COLUMNS[4:], (round(v, 1) for v in d["box"]), strict=True)),
        }
        for d in detections
    ]


def detections_csv(per_image: Mapping[str, Sequence[Json]]) -> str:
    """One row per detection, for every image: image, label, class_id, score, x1, y1, x2, y2."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for image, detections in per_image.items():
        for d in detections:
            writer.writerow([image, d["label"], d["class_id"], d["score"], *d["box"]])
    return buffer.getvalue()


def batch_counts(per_image: Mapping[str, Sequence[Json]]) -> list[Json]:
    """One row per image with a column per class seen anywhere, a total, then a totals row."""
    counts = {image: counts_per_class(dets) for image, dets in per_image.items()}
    overall = counts_per_class(d for dets in per_image.values() for d in dets)
    rows = [
        {"image": image, **{label: c.get(label, 0) for label in overall}, "total": sum(c.values())}
        for image, c in counts.items()
    ]
    rows.append({"image": "all images", **overall, "total": sum(overall.values())})
    return rows


def timing_total(timing: Mapping[str, float]) -> float:
    """Server milliseconds for one image, every stage together."""
    return round(sum(timing.values()), 1)


def top_k_rows(classes: Sequence[Json], k: int) -> list[Json]:
    return [{"label": c["label"], "score": c["score"]} for c in classes[:k]]


def ready_models(models: Iterable[Json], task: str) -> list[str]:
    """Names of the models of a task that can answer now."""
    return [m["name"] for m in models if m.get("task") == task and m["status"] == "ready"]


def model_info(models: Iterable[Json], name: str) -> Json:
    return next((m for m in models if m["name"] == name), {})


def default_threshold(info: Json, fallback: float = 0.25) -> float:
    """The model's own default score threshold, kept inside the slider's range."""
    value = float((info.get("postprocess") or {}).get("score_threshold", fallback))
    return min(1.0, max(REQUEST_FLOOR, value))


def model_rows(models: Iterable[Json]) -> list[Json]:
    """The Models page's summary table, one row per model."""
    rows = []
    for m in models:
        spec = m.get("input") or {}
        size = "x".join(str(v) for v in spec.get("size", []))
        rows.append(
            {
                "model": m["name"],
                "status": m["status"],
                "task": m.get("task") or "",
                "decoder": m.get("decoder") or "",
                "labels": len(m.get("labels") or []),
                "input": f"{size} {spec.get('resize', '')} {spec.get('layout', '')} "
                f"{spec.get('color', '')} {spec.get('dtype', '')}".strip()
                if spec
                else "",
                "versions": ", ".join(m.get("versions") or []),
                "serving": m.get("default_version") or "",
                "load ms": m.get("load_ms"),
            }
        )
    return rows


def mask_legend(mask: Json, colours: Sequence[tuple[int, int, int]]) -> list[Json]:
    """Label, colour (#rrggbb, from the mask PNG's palette) and pixel share of each class."""
    rows = []
    for index, label in enumerate(mask["labels"]):
        r, g, b = colours[index] if index < len(colours) else (0, 0, 0)
        share = float(mask["fractions"].get(label, 0.0))
        rows.append({"label": label, "colour": f"#{r:02x}{g:02x}{b:02x}", "share": share})
    return rows


def problem_message(error: APIError) -> str:
    """A problem+json error as one readable line: title, status, detail."""
    detail = f": {error.detail}" if error.detail else ""
    return f"{error.title} (HTTP {error.status}){detail}"


def unreachable_message(url: str, error: Exception) -> str:
    reason = str(error) or type(error).__name__
    return (
        f"Cannot reach the Fovea API at {url} ({reason}). Start it with `fovea serve`, or "
        "point the UI elsewhere with FOVEA_API_URL or the API URL box in the sidebar."
    )


def not_fovea_message(url: str, error: Exception) -> str:
    return f"The server at {url} did not answer like a Fovea API ({type(error).__name__}: {error})."


def unique_names(names: Iterable[str]) -> list[str]:
    """File names made unique for display and downloads: a.jpg, a (2).jpg, a (3).jpg."""
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        if seen[name] == 1:
            out.append(name)
            continue
        stem, dot, ext = name.rpartition(".")
        out.append(f"{stem} ({seen[name]}).{ext}" if dot else f"{name} ({seen[name]})")
    return out


def combined_response(bodies: Mapping[str, Json], kept: Mapping[str, Sequence[Json]]) -> Json:
    """One predict response for a batch sent image by image, each output's detections filtered
    to what the page shows."""
    first = next(iter(bodies.values()), {})
    outputs = [
        {**body["outputs"][0], "detections": list(kept.get(name, []))}
        for name, body in bodies.items()
    ]
    return {
        "model": first.get("model"),
        "version": first.get("version"),
        "task": first.get("task"),
        "outputs": outputs,
        "errors": {},
    }
