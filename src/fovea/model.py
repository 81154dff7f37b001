"""A served model version: `prepare` (bytes -> tensor), `infer` (a batch), `finish` (-> result).

The three steps are separate so a batcher can run `infer` for many requests at once; `predict`
chains them for one request. Everything here is plain, synchronous and free of web code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.errors import FoveaError, InvalidParameter, ModelConfigError
from fovea.results import Result
from fovea.runtime.onnx import OnnxModel
from fovea.spec import ModelSpec
from fovea.tasks import classify, segment
from fovea.tasks.detect import DECODERS, DecodeContext, Selection, select
from fovea.vision.io import DecodedImage, Limits, decode_image
from fovea.vision.prep import Geometry, prepare

Outputs = dict[str, npt.NDArray[np.float32]]
T = TypeVar("T")


@dataclass(frozen=True)
class PredictParams:
    """Per-request overrides; None means the model's default from model.toml."""

    score_threshold: float | None = None
    iou_threshold: float | None = None
    max_detections: int | None = None
    top_k: int | None = None
    classes: tuple[str, ...] | None = None


@dataclass
class Prepared:
    """One image made ready for the model, and what is needed to finish it afterwards."""

    tensor: npt.NDArray[np.generic]
    geometry: Geometry
    image: Image.Image
    timing_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    result: Result
    size_wh: tuple[int, int]
    timing_ms: dict[str, float]


class ServedModel:
    """One version of one model, loaded and ready to predict."""

    def __init__(self, name: str, version: str, spec: ModelSpec, onnx: OnnxModel) -> None:
        self.name, self.version, self.spec, self.onnx = name, version, spec, onnx
        self.labels: tuple[str, ...] = (
            _mask_labels(spec) if spec.task == "segment" else (spec.reported_labels)
        )
        self.roles = resolve_outputs(_roles(spec), onnx.output_names, spec.outputs)
        self._remap = _remap_table(spec)
        self._check_input()

    def prepare(self, data: bytes, limits: Limits, *, keep_full_image: bool = False) -> Prepared:
        start = time.perf_counter()
        # A JPEG much larger than the input decodes at reduced scale, unless drawing needs it all.
        draft = None if keep_full_image else self.spec.input.size_wh
        decoded = decode_image(data, limits, draft_wh=draft)
        decoded_at = time.perf_counter()
        tensor, geometry = prepare(decoded, self.spec.input)
        timing = {"decode": _ms(start, decoded_at), "preprocess": _ms(decoded_at)}
        return Prepared(tensor, geometry, decoded.image, timing)

    def infer(self, tensors: Sequence[npt.NDArray[np.generic]]) -> list[Outputs]:
        """Run the model on a batch of prepared tensors; one output dict per image."""
        raw = self.onnx.run(np.stack(tensors))
        by_role = {role: raw[name] for role, name in self.roles.items()}
        count = len(tensors)
        return [
            {role: _item(array, i, count) for role, array in by_role.items()} for i in range(count)
        ]

    def finish(
        self,
        outputs: Mapping[str, npt.NDArray[np.float32]],
        geometry: Geometry,
        params: PredictParams,
    ) -> Result:
        """Decode one image's outputs into a result in original-image pixels."""
        spec, post = self.spec, self.spec.postprocess
        allowed = self._allowed(params.classes)
        if spec.task == "detect":
            decoder = DECODERS[spec.decoder]
            context = DecodeContext(
                spec.input.size_wh,
                _pick(params.score_threshold, post.score_threshold),
                len(spec.labels) or None,
                post.class_offset,
            )
            selection = Selection(
                _pick(params.iou_threshold, post.iou_threshold),
                _pick(params.max_detections, post.max_detections),
                self._remap,
                allowed,
            )
            dets = select(decoder.decode(outputs, context), selection, run_nms=not decoder.has_nms)
            keypoints = None if dets.keypoints is None else geometry.to_image_points(dets.keypoints)
            return type(dets)(
                geometry.to_image_xyxy(dets.xyxy), dets.score, dets.class_id, keypoints
            )
        if spec.task == "classify":
            scores = classify.to_scores(outputs["output"], spec.decoder)
            if self._remap is not None:
                scores = classify.remap_scores(scores, self._remap, len(self.labels), spec.decoder)
            return classify.top_k(scores, _pick(params.top_k, post.top_k), allowed)
        layout = post.output_layout or spec.input.layout
        return segment.decode(
            outputs["output"], spec.decoder, layout, geometry, post.mask_threshold
        )

    def predict(self, data: bytes, limits: Limits, params: PredictParams) -> Prediction:
        """The whole pipeline for one image, in the calling thread."""
        return self.run(data, limits, params)[1]

    def run(
        self, data: bytes, limits: Limits, params: PredictParams, *, keep_full_image: bool = False
    ) -> tuple[Prepared, Prediction]:
        """`predict`, also giving back the prepared image (render draws on it)."""
        prepared = self.prepare(data, limits, keep_full_image=keep_full_image)
        start = time.perf_counter()
        outputs = self.infer([prepared.tensor])[0]
        prepared.timing_ms["infer"] = _ms(start)
        return prepared, self.complete(prepared, outputs, params)

    def complete(self, prepared: Prepared, outputs: Outputs, params: PredictParams) -> Prediction:
        start = time.perf_counter()
        result = self.finish(outputs, prepared.geometry, params)
        timing = {**prepared.timing_ms, "postprocess": _ms(start)}
        return Prediction(result, prepared.geometry.image_wh, timing)

    def check_params(self, params: PredictParams) -> None:
        """Raise InvalidParameter for a class name the model does not report."""
        self._allowed(params.classes)

    def warm_up(self) -> None:
        """One run on a grey image: fails loudly at load time, not on the first request."""
        w, h = self.spec.input.size_wh
        grey = DecodedImage(Image.new("RGB", (w, h), (114, 114, 114)), (w, h))
        tensor, geometry = prepare(grey, self.spec.input)
        try:
            self.finish(self.infer([tensor])[0], geometry, PredictParams())
        except FoveaError:
            raise
        except Exception as exc:  # any failure here means model.toml does not fit the graph
            raise ModelConfigError(f"warm-up run failed: {exc}") from exc

    def _allowed(self, classes: tuple[str, ...] | None) -> frozenset[int] | None:
        if classes is None:
            return None
        unknown = [c for c in classes if c not in self.labels]
        if unknown:
            raise InvalidParameter(f"classes {unknown} are not labels of model {self.name!r}")
        return frozenset(self.labels.index(c) for c in classes)

    def _check_input(self) -> None:
        shape, spec = self.onnx.input_shape, self.spec.input
        if len(shape) != 4:
            raise ModelConfigError(f"the model input must be 4-D, the graph's is {shape}")
        h, w = (shape[1], shape[2]) if spec.layout == "NHWC" else (shape[2], shape[3])
        for name, graph, want in (("height", h, spec.size[0]), ("width", w, spec.size[1])):
            if isinstance(graph, int) and graph != want:
                raise ModelConfigError(
                    f"input.size {list(spec.size)} ({spec.layout}) does not match the graph's "
                    f"input shape {shape}: {name} is {graph}"
                )
        if self.onnx.input_dtype is not None and np.dtype(self.onnx.input_dtype) != np.dtype(
            spec.dtype
        ):
            raise ModelConfigError(
                f"input.dtype is {spec.dtype} but the graph takes {self.onnx.input.type}"
            )


def resolve_outputs(
    roles: Sequence[str], graph_outputs: Sequence[str], explicit: Mapping[str, str]
) -> dict[str, str]:
    """Map each decoder role to a graph output: model.toml's `outputs` first, then the output whose
    name holds every word of the role (`cls_8` finds `cls_pred_stride_8`), then graph order."""
    unknown_roles = sorted(set(explicit) - set(roles))
    if unknown_roles:
        raise ModelConfigError(
            f"outputs names roles {unknown_roles}; the decoder has {list(roles)}"
        )
    missing = sorted(set(explicit.values()) - set(graph_outputs))
    if missing:
        raise ModelConfigError(
            f"outputs {missing} are not in the graph; it has {list(graph_outputs)}"
        )
    chosen: dict[str, str] = dict(explicit)
    free = [name for name in graph_outputs if name not in chosen.values()]
    for role in roles:
        if role in chosen or not free:
            continue
        named = [name for name in free if _words(role) <= _words(name)]
        chosen[role] = (named or free)[0]
        free.remove(chosen[role])
    absent = [r for r in roles if r not in chosen]
    if absent:
        raise ModelConfigError(
            f"the graph has no output for {absent}; it has {list(graph_outputs)}"
        )
    return {role: chosen[role] for role in roles}


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower())) - {""}


def _roles(spec: ModelSpec) -> tuple[str, ...]:
    return DECODERS[spec.decoder].roles if spec.task == "detect" else ("output",)


def _remap_table(spec: ModelSpec) -> npt.NDArray[np.int64] | None:
    if not spec.class_map:
        return None
    reported = spec.reported_labels
    return np.array(
        [
            reported.index(spec.class_map[label]) if label in spec.class_map else -1
            for label in spec.labels
        ],
        np.int64,
    )


def _mask_labels(spec: ModelSpec) -> tuple[str, ...]:
    # A one-channel segmenter names its foreground; class 0 is then the background.
    if spec.decoder != "argmax" and len(spec.labels) <= 1:
        return ("background", *(spec.labels or ("foreground",)))
    return spec.labels


def _item(array: npt.NDArray[np.float32], index: int, count: int) -> npt.NDArray[np.float32]:
    # An output without a batch axis (a scalar count, say) can only belong to a batch of one.
    if array.ndim and array.shape[0] == count:
        return np.asarray(array[index], np.float32)
    return array


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


def _ms(start: float, end: float | None = None) -> float:
    return round(((end if end is not None else time.perf_counter()) - start) * 1000, 3)
