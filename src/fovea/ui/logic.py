"""Data shaping for the UI: plain functions on typed answers (core `Detections`, `Classes`,
`Mask`; wire `ModelInfo`, `PredictResponse`), so the pages stay thin and every rule here is
unit-tested without Streamlit or a server.
"""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from fovea.client import APIError
from fovea.core import Classes, Detections, Mask, Params, labels_of
from fovea.vision.annotators import palette
from fovea.wire import (
    ExplainResponse,
    ModelInfo,
    Output,
    PredictResponse,
    Timing,
    detections_of,
)

Json = dict[str, Any]

# The UI asks once with this low threshold, then filters client-side so sliders are instant.
REQUEST_FLOOR = 0.05
FLOOR_PARAMS = Params(score_threshold=REQUEST_FLOOR)
CSV_COLUMNS = ("image", "label", "class_id", "score", "x1", "y1", "x2", "y2")


def filter_detections(
    dets: Detections, threshold: float, classes: Collection[str] = ()
) -> Detections:
    """Detections scoring at least `threshold`, of the given labels (none given: all)."""
    # float32 scores against a Python float: numpy casts the threshold to float32 (NEP 50), so
    # a score the API rounded to 0.7 is kept at a threshold of 0.7.
    wanted = np.isin(dets.class_name, list(classes)) if classes else True
    return dets[(dets.score >= threshold) & wanted]


def counts_per_class(dets: Detections) -> dict[str, int]:
    """Label -> count, most frequent first, ties by label."""
    return _ranked(Counter(dets.class_name))


def _ranked(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def labels_present(results: Iterable[Detections]) -> list[str]:
    return sorted({name for dets in results for name in dets.class_name})


def detection_rows(dets: Detections) -> list[Json]:
    """Table rows: label, score and the box in pixels, rounded for reading; a pipeline's rows
    also name the second stage's best class (the species of an animal, say)."""
    second = dets.data.get("class_names")
    return [
        {
            "label": name,
            **({"class": str(second[i, 0])} if second is not None else {}),
            "score": round(score, 3),
            **dict(zip(CSV_COLUMNS[4:], (round(v, 1) for v in xyxy), strict=True)),
        }
        for i, (name, score, xyxy) in enumerate(
            zip(dets.class_name, _scores(dets), _boxes(dets), strict=True)
        )
    ]


def detections_csv(per_image: Mapping[str, Detections]) -> str:
    """One row per detection, for every image: image, label, class_id, score, x1, y1, x2, y2."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for image, dets in per_image.items():
        rows = zip(
            dets.class_name, dets.class_id.tolist(), _scores(dets), _boxes(dets), strict=True
        )
        for name, class_id, score, xyxy in rows:
            writer.writerow([image, name, class_id, score, *xyxy])
    return buffer.getvalue()


def _scores(dets: Detections) -> list[float]:
    """The scores the API sent, which float32 holds only nearly (0.7 -> 0.69999999): rounded
    again as the API rounds them (wire._convert), they read back exactly. So are the boxes."""
    return [round(v, 5) for v in dets.score.tolist()]


def _boxes(dets: Detections) -> list[list[float]]:
    return [[round(v, 2) for v in xyxy] for xyxy in dets.xyxy.tolist()]


def batch_counts(per_image: Mapping[str, Detections]) -> list[Json]:
    """One row per image with a column per class seen anywhere, a total, then a totals row."""
    counts = {image: Counter(dets.class_name) for image, dets in per_image.items()}
    overall = _ranked(sum(counts.values(), Counter()))
    rows = [
        {"image": image, **{label: c[label] for label in overall}, "total": c.total()}
        for image, c in counts.items()
    ]
    rows.append({"image": "all images", **overall, "total": sum(overall.values())})
    return rows


def timing_total(timing: Timing) -> float:
    """Server milliseconds for one image, every stage together."""
    stages: dict[str, float] = timing.model_dump()
    return round(sum(stages.values()), 1)


def top_k_rows(classes: Classes, k: int) -> list[Json]:
    scores = [round(v, 5) for v in classes.score[:k].tolist()]  # as the API sent them
    return [
        {"label": name, "score": score}
        for name, score in zip(classes.class_name[:k], scores, strict=True)
    ]


def ready_models(models: Iterable[ModelInfo], task: str) -> list[str]:
    """Names of the models of a task that can answer now."""
    return [m.name for m in models if m.task == task and m.status == "ready"]


def model_info(models: Iterable[ModelInfo], name: str) -> ModelInfo:
    """The listed model of that name (a name taken from the same list)."""
    return next(m for m in models if m.name == name)


def default_threshold(info: ModelInfo, fallback: float = 0.25) -> float:
    """The model's own default score threshold, kept inside the slider's range."""
    value = float(info.postprocess.get("score_threshold", fallback))
    return min(1.0, max(REQUEST_FLOOR, value))


def model_rows(models: Iterable[ModelInfo]) -> list[Json]:
    """The Models page's summary table, one row per model."""
    return [
        {
            "model": m.name,
            "status": m.status,
            "task": m.task or "",
            "decoder": m.decoder or "",
            "labels": len(m.labels),
            "input": _input_text(m),
            "versions": ", ".join(m.versions),
            "serving": m.default_version or "",
            "load ms": m.load_ms,
        }
        for m in models
    ]


def _input_text(model: ModelInfo) -> str:
    spec = model.input
    if spec is None:
        return ""
    size = "x".join(str(v) for v in spec.size)
    return f"{size} {spec.resize} {spec.layout} {spec.color} {spec.dtype}"


def mask_legend(mask: Mask) -> list[Json]:
    """Label, colour (#rrggbb, the colour MaskAnnotator draws) and pixel share of each class."""
    colours = palette(mask.num_classes).tolist()
    names = labels_of(range(mask.num_classes), mask.labels)
    return [
        {"label": name, "colour": "#{:02x}{:02x}{:02x}".format(*rgb), "share": round(share, 5)}
        for name, rgb, share in zip(names, colours, mask.fractions().tolist(), strict=True)
    ]


def mask_png(output: Output) -> bytes:
    """The mask as the API sent it: a palette PNG, pixel value = class id."""
    return b"" if output.mask is None else base64.b64decode(output.mask.png)


def response_json(response: PredictResponse) -> Json:
    """A predict response as the API writes it (fields without a value left out)."""
    return response.model_dump(mode="json", exclude_none=True)


def combined_response(
    responses: Mapping[str, PredictResponse], kept: Mapping[str, Detections]
) -> PredictResponse:
    """One predict response for (at least one) images sent one by one, each output's
    detections being what the page shows, written by the converter the server uses."""
    first = next(iter(responses.values()))
    outputs = [_with_detections(r.outputs[0], kept[name]) for name, r in responses.items()]
    return PredictResponse(
        model=first.model, version=first.version, task=first.task, outputs=outputs
    )


def _with_detections(output: Output, dets: Detections) -> Output:
    size_wh = (output.width, output.height)
    return output.model_copy(update={"detections": detections_of(dets, size_wh)})


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


METHOD_NAMES = {
    "scorecam": "Score-CAM",
    "rise": "RISE",
    "occlusion": "Occlusion",
    "drise": "D-RISE",
}


def method_name(method: str) -> str:
    """How a method is shown: Score-CAM, RISE, Occlusion, D-RISE."""
    return METHOD_NAMES.get(method, method)


def explanation_caption(answer: ExplainResponse) -> str:
    """What the overlay shows, and what it cost: method, class, score, model runs, seconds."""
    seconds = answer.timing.get("total", 0.0) / 1000
    return (
        f"{method_name(answer.method)}: where the model looked for {answer.label} "
        f"({answer.score:.2f}); {answer.evaluations} model runs in {seconds:.1f} s"
    )
