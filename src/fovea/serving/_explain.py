"""Explanation sweeps: why a model gave one image's answer, by a method of `tasks.explain`. The
image runs once as a request would; its perturbed copies then run through `Service` at background
priority, each admitted as one image, so interactive requests keep their room and go first.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import (
    CLASSIFIER_METHODS,
    DETECTOR_METHODS,
    Classes,
    Detections,
    ExplainParams,
    Geometry,
    Heatmap,
    Method,
    Params,
    Result,
)
from fovea.errors import InvalidParameter
from fovea.models import ACTIVATION, Servable, ServedModel
from fovea.serving._admission import Priority
from fovea.serving._service import Service
from fovea.serving._sources import Frame, Source, image_of
from fovea.tasks import DecodeContext
from fovea.tasks.detect._nms import box_iou
from fovea.tasks.explain import METHODS, Base, Sweep, drise
from fovea.vision import ImageLike, Limits, load_image, neutral_rgb, place

XYXY = npt.NDArray[np.float32]
# D-RISE scores the detections of masked images down to this: a weakened box still counts, by
# its score (the paper keeps every proposal).
DRISE_SCORE_FLOOR = 0.01


@dataclass(frozen=True)
class Explanation:
    """A heatmap over the original image's pixels, for the class (and, for detectors, the box
    in image pixels) it explains; how many perturbed images were run; the decoded image."""

    heatmap: Heatmap
    method: Method
    evaluations: int
    image: Image.Image
    timing_ms: dict[str, float]
    box: XYXY | None = None


@dataclass(frozen=True)
class _Target:
    """What is explained, in model-input space: a class, its score, and a detector's box."""

    class_id: int
    label: str
    score: float
    box: XYXY | None = None


def methods_for(model: Servable) -> tuple[Method, ...]:
    """The methods that can explain this model's answers (the first one is the default); none
    for a two-stage pipeline, whose stages are explained one by one."""
    if not isinstance(model, ServedModel):
        return ()
    if model.spec.task == "classify":
        usable = [m for m in CLASSIFIER_METHODS if model.activation or m != "scorecam"]
        return tuple(usable)
    return DETECTOR_METHODS if model.spec.task == "detect" else ()


async def explain(
    service: Service,
    model: Servable,
    source: Source,
    params: ExplainParams,
    max_evaluations: int,
) -> Explanation:
    """Explain one image's answer (see the module docstring); bad parameters raise
    InvalidParameter before any perturbed image runs. Every model run is admitted as background
    work: admit the request itself first (`Service.admit`), and leave that ticket before this,
    or a model whose queue holds one image would wait on itself."""
    started = time.perf_counter()
    if not isinstance(model, ServedModel):
        stages = model.spec.pipeline
        raise InvalidParameter(
            f"model {model.name!r} runs {stages.detector!r}, then {stages.classifier!r} on its "
            "boxes: explain each of them instead"
        )
    method = _method(model, params)
    local = await service.fetched(source)
    (pixels, geometry, image), _ = await service.pipeline.in_worker(
        lambda: _placed(model, image_of(local, service.limits.max_bytes), service.limits)
    )
    explainer = METHODS[method]
    base_context = _base_context(model, params)
    # Admitted as background work like the sweep: the caller's request was admitted already.
    with await service.admit_background(model):
        first = await service.run(
            model, Frame(pixels), base_context, keep_outputs=explainer.needs_activation
        )
    target = _target(model, first.result, params, geometry)
    activation = None
    if explainer.needs_activation:
        assert first.outputs is not None
        activation = first.outputs[ACTIVATION]
    base = Base(pixels, neutral_rgb(model.spec.input), target.score, activation)
    sweep = explainer.sweep(base, params)
    if sweep.count > max_evaluations:
        raise InvalidParameter(
            f"{method} with these parameters runs the model {sweep.count} times; this server "
            f"allows {max_evaluations} (FOVEA_EXPLAIN_MAX_EVALUATIONS)"
        )
    swept_at = time.perf_counter()
    score = _scorer(model, target)
    scores = await _run_sweep(service, model, sweep, _sweep_context(model, target), score)
    values, _ = await service.pipeline.in_worker(lambda: sweep.combine(scores), Priority.BACKGROUND)
    in_model = Heatmap(values, target.class_id, target.label, target.score)
    heatmap, _ = await service.pipeline.in_worker(lambda: geometry.to_image(in_model))
    box = None if target.box is None else geometry.to_image_xyxy(target.box[None])[0]
    timing = {"base": round((swept_at - started) * 1000, 3), "total": _ms(started)}
    timing["sweep"] = round(timing["total"] - timing["base"], 3)
    return Explanation(heatmap, method, sweep.count, image, timing, box)


def _method(model: ServedModel, params: ExplainParams) -> Method:
    task, usable = model.spec.task, methods_for(model)
    if not usable:
        raise InvalidParameter(
            f"model {model.name!r} is a {task} model; explain takes classifiers and detectors"
        )
    method = params.method or usable[0]
    if method not in usable:
        why = (
            f"scorecam needs an activation output, and model {model.name!r} names none in "
            "model.toml ([explain] activation)"
            if method == "scorecam" and task == "classify"
            else f"{method} does not explain {task} models"
        )
        raise InvalidParameter(f"{why}; use {' or '.join(usable)}")
    if task == "classify" and (params.box is not None or params.box_index is not None):
        raise InvalidParameter("box and box_index choose a detection: they are for detectors")
    if params.target is not None and params.target not in model.labels:
        raise InvalidParameter(f"target {params.target!r} is not a label of model {model.name!r}")
    return method


def _placed(
    model: ServedModel, data: ImageLike, limits: Limits
) -> tuple[npt.NDArray[np.uint8], Geometry, Image.Image]:
    decoded = load_image(data, limits)  # full resolution: the heatmap is drawn on it
    pixels, geometry = place(decoded, model.spec.input)
    return pixels, geometry, decoded.image


def _base_context(model: ServedModel, params: ExplainParams) -> DecodeContext:
    """The unperturbed run: the top class (or the target's score), or the detections as
    predict gives them (of the target's class, if one is named)."""
    classes = None if params.target is None else (params.target,)
    if model.spec.task == "classify":
        return model.context(Params(top_k=1, classes=classes))
    return model.context(Params(classes=classes))


def _target(
    model: ServedModel, result: Result, params: ExplainParams, geometry: Geometry
) -> _Target:
    if isinstance(result, Classes):
        class_id, score = int(result.class_id[0]), float(result.score[0])
        return _Target(class_id, model.labels[class_id], score)
    assert isinstance(result, Detections)
    if params.box is not None:
        return _given_box(model, result, params, geometry)
    index = params.box_index or 0
    if index >= len(result):
        found = f"{len(result)} detections" + (f" of {params.target!r}" if params.target else "")
        raise InvalidParameter(f"box_index {index} is out of range: the image has {found}")
    class_id = int(result.class_id[index])
    return _Target(class_id, model.labels[class_id], float(result.score[index]), result.xyxy[index])


def _given_box(
    model: ServedModel, dets: Detections, params: ExplainParams, geometry: Geometry
) -> _Target:
    """A box given in image pixels: its class is the target's, else that of the detection
    overlapping it most; its score is how well the detections find it."""
    assert params.box is not None
    (sx, sy), (ox, oy) = geometry.scale_xy, geometry.offset_xy
    x1, y1, x2, y2 = params.box
    if not (x2 > x1 and y2 > y1):
        raise InvalidParameter(f"box {list(params.box)} is empty: give x1 < x2 and y1 < y2")
    box = np.array([x1 * sx + ox, y1 * sy + oy, x2 * sx + ox, y2 * sy + oy], np.float32)
    overlaps = box_iou(box, dets.xyxy)
    if params.target is not None:
        class_id = model.labels.index(params.target)
    elif len(dets) and float(overlaps.max()) > 0:
        class_id = int(dets.class_id[int(overlaps.argmax())])
    else:
        raise InvalidParameter(
            f"no detection overlaps box {list(params.box)}: name its class with target"
        )
    return _Target(class_id, model.labels[class_id], drise.similarity(dets, box, class_id), box)


def _sweep_context(model: ServedModel, target: _Target) -> DecodeContext:
    if model.spec.task == "classify":
        return model.context(Params(top_k=1, classes=(target.label,)))
    floor = min(DRISE_SCORE_FLOOR, model.spec.postprocess.score_threshold)
    return model.context(Params(score_threshold=floor, classes=(target.label,)))


def _scorer(model: ServedModel, target: _Target) -> Callable[[Result], float]:
    if model.spec.task == "classify":
        return lambda result: float(result.score[0]) if isinstance(result, Classes) else 0.0
    assert target.box is not None
    box = target.box

    def similarity(result: Result) -> float:
        assert isinstance(result, Detections)
        return drise.similarity(result, box, target.class_id)

    return similarity


async def _run_sweep(
    service: Service,
    model: ServedModel,
    sweep: Sweep,
    context: DecodeContext,
    score: Callable[[Result], float],
) -> npt.NDArray[np.float32]:
    """Every perturbed image through the service at background priority, each admitted as one
    image. As many run at once as background work may hold of the model's queue (half of it),
    enough to fill the model's batches, and no more sit decoded in memory."""
    scores = np.zeros(sweep.count, np.float32)
    indices = iter(range(sweep.count))
    share = max(1, model.spec.batching.max_queue // 2)

    async def worker() -> None:
        for index in indices:  # shared: each index is taken by one worker
            with await service.admit_background(model):
                pixels, _ = await service.pipeline.in_worker(
                    functools.partial(sweep.perturb, index), Priority.BACKGROUND
                )
                prediction = await service.run(model, Frame(pixels), context, Priority.BACKGROUND)
            scores[index] = score(prediction.result)

    async with anyio.create_task_group() as group:
        for _ in itertools.repeat(None, min(share, sweep.count)):
            group.start_soon(worker)
    return scores


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
