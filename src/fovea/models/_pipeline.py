"""A two-stage model: a detector, then a classifier on each box of chosen labels (the species of
an animal, the defect of a part). Served like any model; its stages are other models of the
repository, looked up by name on each request, so reloading a stage needs nothing here.

Each classified box gets `data["class_ids"]`, `data["class_scores"]` (N, top_k, -1 and NaN where
there is nothing) and `data["class_names"]` (N, top_k, object) in its Detections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from fovea.core import Classes, Detections, Params
from fovea.errors import ModelConfigError
from fovea.models._served import Prediction, ServedModel
from fovea.models._spec import PipelineModelSpec
from fovea.tasks import DecodeContext
from fovea.vision import ImageLike, Limits

Resolver = Callable[[str], ServedModel]


class PipelineModel:
    def __init__(self, name: str, spec: PipelineModelSpec, resolve: Resolver) -> None:
        self.name, self.version, self.spec = name, "1", spec
        self._resolve = resolve

    @property
    def detector(self) -> ServedModel:
        return self._resolve(self.spec.pipeline.detector)

    @property
    def classifier(self) -> ServedModel:
        return self._resolve(self.spec.pipeline.classifier)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.detector.labels

    @property
    def class_labels(self) -> tuple[str, ...]:
        """Every name the second stage may report, the unknown label last."""
        stages = self.spec.pipeline
        named = _reported(stages.label_map) if stages.label_map else self.classifier.labels
        return (*named, stages.unknown_label)

    def check(self) -> None:
        """Stages of the right tasks, and labels that exist: readable errors at load time."""
        stages = self.spec.pipeline
        detector, classifier = self.detector, self.classifier
        if detector.spec.task != "detect":
            raise ModelConfigError(f"stage detector {stages.detector!r} is a {detector.spec.task}")
        if classifier.spec.task != "classify":
            raise ModelConfigError(
                f"stage classifier {stages.classifier!r} is a {classifier.spec.task} model"
            )
        missing = sorted(set(stages.classify) - set(detector.labels))
        if missing:
            raise ModelConfigError(f"classify names labels {stages.detector!r} lacks: {missing}")
        unknown = sorted(set(stages.label_map) - set(classifier.labels))
        if unknown:
            raise ModelConfigError(
                f"label_map names labels {stages.classifier!r} lacks: {unknown[:5]}"
            )

    def predict(
        self,
        image: ImageLike,
        params: Params | None = None,
        limits: Limits | None = None,
        *,
        keep_image: bool = False,
    ) -> Prediction:
        """Both stages for one image in the calling thread (the server runs them through each
        stage's batcher instead)."""
        limits = limits or Limits()
        found = self.detector.predict(image, params, limits, keep_image=True)
        assert found.image is not None
        assert isinstance(found.result, Detections)
        crops = self.crops(found.image, found.result)
        classify = self.classifier_context()
        answers = []
        for _, crop in crops:
            answer = self.classifier.run(np.asarray(crop), classify, limits).result
            assert isinstance(answer, Classes)
            answers.append(answer)
        result = self.attach(found.result, [i for i, _ in crops], answers)
        return replace(found, result=result, image=found.image if keep_image else None)

    def context(self, params: Params) -> DecodeContext:
        """The request's parameters apply to the detector."""
        return self.detector.context(params)

    def classifier_context(self) -> DecodeContext:
        # Every mapped label's probability, so labels reported under one name can add up.
        mapped = tuple(self.spec.pipeline.label_map) or None
        return self.classifier.context(Params(top_k=1000, classes=mapped))

    def crops(self, image: Image.Image, dets: Detections) -> list[tuple[int, Image.Image]]:
        """(box index, crop) for each box to classify, from the image the boxes refer to."""
        stages, crop = self.spec.pipeline, self.spec.pipeline.crop
        wanted = set(stages.classify)
        out = []
        for i, (name, xyxy) in enumerate(zip(dets.class_name, dets.xyxy.tolist(), strict=True)):
            if wanted and name not in wanted:
                continue
            box = _crop_box(xyxy, crop.padding, crop.square, image.size)
            if min(xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]) >= crop.min_size:
                out.append((i, image.crop(box)))
        return out

    def attach(
        self, dets: Detections, indexes: Sequence[int], answers: Sequence[Classes]
    ) -> Detections:
        """Detections with each classified box's top-k classes in `data`."""
        stages = self.spec.pipeline
        ids = np.full((len(dets), stages.top_k), -1, np.int64)
        scores = np.full((len(dets), stages.top_k), np.nan, np.float32)
        names = np.full((len(dets), stages.top_k), "", object)
        reported = _reported(stages.label_map)
        for i, classes in zip(indexes, answers, strict=True):
            top = _top_k(classes, stages.label_map, reported, stages.top_k)
            if top and top[0][2] < stages.min_score:
                top = [(-1, stages.unknown_label, top[0][2])]
            for k, (class_id, name, score) in enumerate(top):
                ids[i, k], names[i, k], scores[i, k] = class_id, name, score
        data = {**dets.data, "class_ids": ids, "class_scores": scores, "class_names": names}
        return dets.replace(data=data)


def _reported(label_map: dict[str, str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(label_map.values()))


def _top_k(
    classes: Classes, label_map: dict[str, str], reported: tuple[str, ...], k: int
) -> list[tuple[int, str, float]]:
    """(id, name, score) best first; with a label map, ids index the reported names and the
    probabilities of classifier labels reported under one name add up."""
    pairs = zip(classes.class_name, classes.class_id.tolist(), classes.score.tolist(), strict=True)
    if not label_map:
        return [(class_id, name, score) for name, class_id, score in pairs][:k]
    totals: dict[str, float] = {}
    for name, _, score in pairs:
        target = label_map[name]
        totals[target] = totals.get(target, 0.0) + score
    best = sorted(totals.items(), key=lambda item: -item[1])[:k]
    return [(reported.index(name), name, round(score, 6)) for name, score in best]


def _crop_box(
    xyxy: Sequence[float], padding: float, square: bool, size_wh: tuple[int, int]
) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = xyxy
    w, h = (x2 - x1) * (1 + 2 * padding), (y2 - y1) * (1 + 2 * padding)
    if square:
        w = h = max(w, h)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    width, height = size_wh
    left, top = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    right, bottom = min(float(width), cx + w / 2), min(float(height), cy + h / 2)
    return (
        round(left),
        round(top),
        max(round(left) + 1, round(right)),
        max(round(top) + 1, round(bottom)),
    )
