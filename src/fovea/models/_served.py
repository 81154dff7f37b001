"""A served model version: `prepare` (image -> tensor), `infer` (a batch), `finish` (outputs ->
result in image pixels). The steps are separate so a batcher can run `infer` for many images at
once; `predict` chains them for one image in the calling thread. Plain, synchronous, no web code.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Geometry, Params, Result
from fovea.errors import FoveaError, InvalidParameter, ModelConfigError
from fovea.models._outputs import resolve_outputs
from fovea.models._spec import ModelSpec
from fovea.runtime.onnx import OnnxModel
from fovea.tasks import TASKS, DecodeContext, Decoder, Outputs
from fovea.vision import DecodedImage, ImageLike, Limits, load_image, prepare

Tensor = npt.NDArray[np.generic]
T = TypeVar("T")
ACTIVATION = "activation"  # the outputs' key of model.toml's explain.activation, when it names one


@dataclass
class Prepared:
    """One image made ready for the model, and what is needed to finish it afterwards."""

    tensor: Tensor
    geometry: Geometry
    timing_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """A result in image pixels, the image's size, milliseconds per stage, and the decoded image
    itself and the raw outputs by role when the caller asked to keep them (to draw on, or to
    explain the result)."""

    result: Result
    size_wh: tuple[int, int]
    timing_ms: dict[str, float]
    image: Image.Image | None = None
    outputs: Outputs | None = None


class ServedModel:
    """One version of one model, loaded and ready to predict."""

    def __init__(self, name: str, version: str, spec: ModelSpec, session: OnnxModel) -> None:
        self.name, self.version, self.spec, self.session = name, version, spec, session
        self.decoder: Decoder = TASKS[spec.task].decoders[spec.decoder]
        self.labels: tuple[str, ...] = _reported_labels(spec)
        self.roles = resolve_outputs(self.decoder.roles, session.output_names, spec.outputs)
        self.activation = _activation(spec, session.output_names)
        self._remap = _remap_table(spec)
        self._check_input()

    @property
    def input_wh(self) -> tuple[int, int]:
        return self.spec.input.size_wh

    def context(self, params: Params) -> DecodeContext:
        """The model's defaults with the request's parameters applied; an unknown class name is
        refused here, once, before any image is touched."""
        post, pick = self.spec.postprocess, _pick
        return DecodeContext(
            input_wh=self.input_wh,
            labels=self.labels,
            source_classes=len(self.spec.labels) or None,
            score_threshold=pick(params.score_threshold, post.score_threshold),
            iou_threshold=pick(params.iou_threshold, post.iou_threshold),
            max_detections=pick(params.max_detections, post.max_detections),
            top_k=pick(params.top_k, post.top_k),
            allowed=self._allowed(params.classes),
            remap=self._remap,
            class_offset=post.class_offset,
            mask_threshold=post.mask_threshold,
            output_layout=post.output_layout or self.spec.input.layout,
        )

    def prepare(self, decoded: DecodedImage) -> Prepared:
        start = time.perf_counter()
        tensor, geometry = prepare(decoded, self.spec.input)
        return Prepared(tensor, geometry, {"preprocess": _ms(start)})

    def infer(self, tensors: Sequence[Tensor]) -> list[Outputs]:
        """Run the model on a batch of prepared tensors; one output dict (by role) per image."""
        raw = self.session.run(np.stack(tensors))
        by_role = {role: raw[name] for role, name in self.roles.items()}
        if self.activation is not None:
            by_role[ACTIVATION] = raw[self.activation]
        count = len(tensors)
        return [
            {role: _item(array, i, count) for role, array in by_role.items()} for i in range(count)
        ]

    def finish(self, outputs: Outputs, geometry: Geometry, context: DecodeContext) -> Result:
        """Decode one image's outputs, then map the result back to the image's pixels."""
        return geometry.to_image(self.decoder.decode(outputs, context))

    def complete(
        self,
        prepared: Prepared,
        outputs: Outputs,
        context: DecodeContext,
        image: Image.Image | None = None,
        *,
        keep_outputs: bool = False,
    ) -> Prediction:
        start = time.perf_counter()
        result = self.finish(outputs, prepared.geometry, context)
        timing = {**prepared.timing_ms, "postprocess": _ms(start)}
        kept = outputs if keep_outputs else None
        return Prediction(result, prepared.geometry.image_wh, timing, image, kept)

    def predict(
        self,
        image: ImageLike,
        params: Params | None = None,
        limits: Limits | None = None,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
    ) -> Prediction:
        """The whole pipeline for one image in the calling thread. `keep_image` decodes at full
        resolution and keeps the image in the prediction (to draw on); otherwise a large JPEG
        decodes at reduced scale, which is all the model needs. `keep_outputs` keeps the raw
        outputs by role (with the activation, if model.toml names one)."""
        context = self.context(params or Params())
        start = time.perf_counter()
        draft = None if keep_image else self.input_wh
        decoded = load_image(image, limits or Limits(), draft_wh=draft)
        decode_ms = _ms(start)
        prepared = self.prepare(decoded)
        prepared.timing_ms = {"decode": decode_ms, **prepared.timing_ms}
        start = time.perf_counter()
        outputs = self.infer([prepared.tensor])[0]
        prepared.timing_ms["infer"] = _ms(start)
        image_kept = decoded.image if keep_image else None
        return self.complete(prepared, outputs, context, image_kept, keep_outputs=keep_outputs)

    def warm_up(self) -> None:
        """One run on a grey image: fails loudly at load time, not on the first request."""
        w, h = self.input_wh
        try:
            prediction = self.predict(np.full((h, w, 3), 114, np.uint8), keep_outputs=True)
        except FoveaError:
            raise
        except Exception as exc:  # any failure here means model.toml does not fit the graph
            raise ModelConfigError(f"warm-up run failed: {exc}") from exc
        assert prediction.outputs is not None
        activation = prediction.outputs.get(ACTIVATION)
        if activation is not None and activation.ndim != 3:
            raise ModelConfigError(
                f"explain.activation {self.activation!r} must be (N, C, h, w), a convolutional "
                f"activation; the graph gives {activation.ndim + 1} dimensions"
            )

    def _allowed(self, classes: tuple[str, ...] | None) -> frozenset[int] | None:
        if classes is None:
            return None
        unknown = [c for c in classes if c not in self.labels]
        if unknown:
            raise InvalidParameter(f"classes {unknown} are not labels of model {self.name!r}")
        return frozenset(self.labels.index(c) for c in classes)

    def _check_input(self) -> None:
        shape, spec = self.session.input_shape, self.spec.input
        if len(shape) != 4:
            raise ModelConfigError(f"the model input must be 4-D, the graph's is {shape}")
        h, w = (shape[1], shape[2]) if spec.layout == "NHWC" else (shape[2], shape[3])
        for name, graph, want in (("height", h, spec.size[0]), ("width", w, spec.size[1])):
            if isinstance(graph, int) and graph != want:
                raise ModelConfigError(
                    f"input.size {list(spec.size)} ({spec.layout}) does not match the graph's "
                    f"input shape {shape}: {name} is {graph}"
                )
        graph_dtype = self.session.input_dtype
        if graph_dtype is not None and np.dtype(graph_dtype) != np.dtype(spec.dtype):
            raise ModelConfigError(
                f"input.dtype is {spec.dtype} but the graph takes {self.session.input.type}"
            )


def _activation(spec: ModelSpec, graph_outputs: Sequence[str]) -> str | None:
    name = spec.explain.activation
    if name is not None and name not in graph_outputs:
        raise ModelConfigError(
            f"explain.activation {name!r} is not an output of the graph; it has "
            f"{list(graph_outputs)}"
        )
    return name


def _reported_labels(spec: ModelSpec) -> tuple[str, ...]:
    # A one-channel segmenter names its foreground; class 0 is then the background.
    if spec.task == "segment" and spec.decoder != "argmax" and len(spec.labels) <= 1:
        return ("background", *(spec.labels or ("foreground",)))
    return spec.reported_labels


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


def _item(array: npt.NDArray[np.float32], index: int, count: int) -> npt.NDArray[np.float32]:
    # An output without a batch axis (a scalar count, say) can only belong to a batch of one.
    if array.ndim and array.shape[0] == count:
        return np.asarray(array[index], np.float32)
    return array


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
