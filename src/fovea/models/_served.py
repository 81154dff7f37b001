"""A served model version: `prepare` (image -> tensor), `infer` (a batch), `finish` (outputs ->
result in image pixels). The steps are separate so a batcher can run `infer` for many images at
once; `predict` chains them for one image in the calling thread. Plain, synchronous, no web code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Geometry, Params, Result
from fovea.errors import FoveaError, InvalidParameter, ModelConfigError
from fovea.models._clock import StageClock
from fovea.models._outputs import resolve_outputs
from fovea.models._spec import ModelSpec
from fovea.runtime.session import Session, datatype_of
from fovea.tasks import TASKS, DecodeContext, Decoder, Outputs
from fovea.vision import DecodedImage, ImageLike, Limits, load_image, prepare

Tensor = npt.NDArray[np.generic]
T = TypeVar("T")
ACTIVATION = "activation"  # the outputs' key of model.toml's explain.activation, when it names one


@dataclass
class Prepared:
    """One image made ready for the model, what is needed to finish it afterwards, and the
    decoded image itself when the caller asked to keep it (to draw on)."""

    tensor: Tensor
    geometry: Geometry
    clock: StageClock = field(default_factory=StageClock)
    image: Image.Image | None = None


@dataclass(frozen=True)
class Prediction:
    """A result in image pixels, the image's size, wall and CPU milliseconds per stage, and the
    decoded image and the raw outputs by role when they were kept (to draw on, or to explain the
    result)."""

    result: Result
    size_wh: tuple[int, int]
    timing_ms: dict[str, float]
    cpu_ms: dict[str, float] = field(default_factory=dict)
    image: Image.Image | None = None
    outputs: Outputs | None = None


class ServedModel:
    """One version of one model, loaded and ready to predict."""

    def __init__(self, name: str, version: str, spec: ModelSpec, session: Session) -> None:
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

    def load(self, image: ImageLike, limits: Limits, *, keep_image: bool = False) -> Prepared:
        """Decode and prepare one image. A large JPEG decodes at reduced scale, all the model
        needs, unless `keep_image` asks for it whole, to draw on."""
        clock = StageClock()
        with clock.stage("decode"):
            decoded = load_image(image, limits, draft_wh=None if keep_image else self.input_wh)
        prepared = self.prepare(decoded, clock)
        prepared.image = decoded.image if keep_image else None
        return prepared

    def prepare(self, decoded: DecodedImage, clock: StageClock | None = None) -> Prepared:
        clock = clock or StageClock()
        with clock.stage("preprocess"):
            tensor, geometry = prepare(decoded, self.spec.input)
        return Prepared(tensor, geometry, clock)

    def run_graph(
        self, tensors: Sequence[Tensor], *, idle: bool = False
    ) -> list[dict[str, Tensor]]:
        """Run the graph on a batch of ready tensors; every output, by its graph name and in its
        own datatype, per item. What the batcher runs, for images and raw tensors alike.
        `idle`: nothing else runs, so the run may use every core (see RuntimeOptions)."""
        count = len(tensors)
        batch = tensors[0][None] if count == 1 else np.stack(tensors)
        raw = self.session.run(batch, idle=idle)
        return [{name: _item(array, i, count) for name, array in raw.items()} for i in range(count)]

    def by_role(self, outputs: dict[str, Tensor]) -> Outputs:
        """One item's graph outputs as the decoder reads them: by role, float32 (and the
        activation model.toml names for explanations, under ACTIVATION)."""
        by_role = {role: np.asarray(outputs[name], np.float32) for role, name in self.roles.items()}
        if self.activation is not None:
            by_role[ACTIVATION] = np.asarray(outputs[self.activation], np.float32)
        return by_role

    def infer(self, tensors: Sequence[Tensor], *, idle: bool = False) -> list[Outputs]:
        """Run the model on a batch of prepared tensors; one output dict (by role) per image."""
        return [self.by_role(outputs) for outputs in self.run_graph(tensors, idle=idle)]

    def finish(self, outputs: Outputs, geometry: Geometry, context: DecodeContext) -> Result:
        """Decode one image's outputs, then map the result back to the image's pixels."""
        return geometry.to_image(self.decoder.decode(outputs, context))

    def complete(
        self,
        prepared: Prepared,
        outputs: Outputs,
        context: DecodeContext,
        *,
        keep_outputs: bool = False,
    ) -> Prediction:
        clock = prepared.clock
        with clock.stage("postprocess"):
            result = self.finish(outputs, prepared.geometry, context)
        size_wh = prepared.geometry.image_wh
        kept = outputs if keep_outputs else None
        return Prediction(result, size_wh, clock.wall_ms, clock.cpu_ms, prepared.image, kept)

    def run(
        self,
        image: ImageLike,
        context: DecodeContext,
        limits: Limits,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
        idle: bool = False,
    ) -> Prediction:
        """Load, infer and complete one image in the calling thread."""
        prepared = self.load(image, limits, keep_image=keep_image)
        with prepared.clock.stage("infer"):
            outputs = self.infer([prepared.tensor], idle=idle)[0]
        return self.complete(prepared, outputs, context, keep_outputs=keep_outputs)

    def predict(
        self,
        image: ImageLike,
        params: Params | None = None,
        limits: Limits | None = None,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
    ) -> Prediction:
        """The whole pipeline for one image (bytes, an RGB array or a Pillow image), in the
        calling thread: what a notebook or a script wants. `keep_outputs` keeps the raw outputs
        by role (with the activation, if model.toml names one)."""
        context = self.context(params or Params())
        return self.run(
            image, context, limits or Limits(), keep_image=keep_image, keep_outputs=keep_outputs
        )

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
        shape, spec = list(self.session.input.shape), self.spec.input
        if len(shape) != 4:
            raise ModelConfigError(f"the model input must be 4-D, the graph's is {shape}")
        h, w = (shape[1], shape[2]) if spec.layout == "NHWC" else (shape[2], shape[3])
        for name, graph, want in (("height", h, spec.size[0]), ("width", w, spec.size[1])):
            if graph != -1 and graph != want:
                raise ModelConfigError(
                    f"input.size {list(spec.size)} ({spec.layout}) does not match the graph's "
                    f"input shape {shape}: {name} is {graph}"
                )
        graph_type, wanted = self.session.input.datatype, datatype_of(np.dtype(spec.dtype))
        if graph_type != wanted:
            raise ModelConfigError(
                f"input.dtype is {spec.dtype} ({wanted}) but the graph takes {graph_type}"
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


def _item(array: Tensor, index: int, count: int) -> Tensor:
    # An output without a batch axis (a scalar count, say) can only belong to a batch of one.
    if array.ndim and array.shape[0] == count:
        item: Tensor = array[index]
        return item
    return array


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value
