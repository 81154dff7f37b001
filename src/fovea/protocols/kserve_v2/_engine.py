"""What the V2 HTTP and gRPC front ends share, free of either transport: server and model
metadata, readiness, infer and the repository calls.

Each model is served twice: `{name}` takes the graph's input tensor and returns its outputs
(through the model's batching, like an image); `{name}.pipeline` takes encoded images (BYTES
input `IMAGE`) and returns Fovea's result for each as JSON (BYTES output `RESULT`, one
`fovea.wire.Output` per image, or `{"id", "error"}` for an image that failed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

import fovea
from fovea.core import Params
from fovea.errors import FoveaError, InvalidParameter, InvalidRequest, ModelNotFound, TooManyImages
from fovea.models import ModelEntry, Repository, ServedModel
from fovea.runtime.session import Array, TensorInfo, datatype_of
from fovea.serving import Encoded, ImageInput, Reloader, Service, Ticket
from fovea.wire import output_of

PIPELINE = ".pipeline"
IMAGE, RESULT = "IMAGE", "RESULT"
EXTENSIONS = ["binary_tensor_data", "model_repository"]
PIPELINE_PLATFORM = "fovea_pipeline"
_PARAMS = set(Params.model_fields)


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    array: Array


@dataclass(frozen=True)
class Wanted:
    """A requested output; `binary` None follows the request's default."""

    name: str
    binary: bool | None = None


@dataclass
class InferRequest:
    inputs: list[Tensor]
    outputs: list[Wanted] | None = None  # None: every output
    id: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class InferResponse:
    model_name: str
    model_version: str
    id: str
    outputs: list[Tensor]


@dataclass(frozen=True)
class Metadata:
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


@dataclass(frozen=True)
class Target:
    """A served version, and whether the request asks for its pipeline view."""

    model: ServedModel
    pipeline: bool

    @property
    def name(self) -> str:
        return self.model.name + (PIPELINE if self.pipeline else "")


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: str
    state: str  # READY, UNAVAILABLE or LOADING, as Triton says
    reason: str


class Engine:
    def __init__(
        self,
        repository: Repository,
        service: Service,
        reloader: Reloader,
        max_items: int,
        draining: Callable[[], bool],
    ) -> None:
        self.repository, self.service, self.reloader = repository, service, reloader
        self.max_items, self.draining = max_items, draining

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "fovea", "version": fovea.__version__, "extensions": EXTENSIONS}

    def ready(self) -> bool:
        return self.repository.ready and not self.draining()

    def model_ready(self, name: str, version: str = "") -> bool:
        try:
            self.resolve(name, version)
        except FoveaError:
            return False
        return not self.draining()

    def resolve(self, name: str, version: str = "") -> Target:
        """The served version a V2 model name means; 404 or 503 problems as for /v1."""
        pipeline = name not in self.repository.entries and name.endswith(PIPELINE)
        model = self.repository.get(
            name.removesuffix(PIPELINE) if pipeline else name, version or None
        )
        if not isinstance(model, ServedModel):  # a two-stage pipeline has no graph of its own
            raise ModelNotFound(f"{name!r} is a two-stage pipeline, served on /v1 only")
        return Target(model, pipeline)

    def metadata(self, name: str, version: str = "") -> Metadata:
        target = self.resolve(name, version)
        model = target.model
        versions = sorted(self.repository.entries[model.name].served, key=_numeric)
        if target.pipeline:
            return Metadata(
                target.name,
                versions,
                PIPELINE_PLATFORM,
                [TensorInfo(IMAGE, "BYTES", (-1,))],
                [TensorInfo(RESULT, "BYTES", (-1,))],
            )
        session = model.session
        return Metadata(model.name, versions, session.platform, [session.input], session.outputs)

    def admit(self, target: Target) -> Ticket:
        """Admission before the body is read, as for /v1 predict: 503 when the model is full."""
        return self.service.admit(target.model)

    async def infer(self, target: Target, request: InferRequest, ticket: Ticket) -> InferResponse:
        if target.pipeline:
            outputs = await self._pipeline(target.model, request, ticket)
        else:
            outputs = await self._tensors(target.model, request, ticket)
        return InferResponse(target.name, target.model.version, request.id, outputs)

    def index(self, ready_only: bool = False) -> list[IndexEntry]:
        rows = [_index_entry(e) for e in self.repository.entries.values()]
        rows += [IndexEntry(n, "", "UNAVAILABLE", "unloaded") for n in self.repository.unloaded]
        rows.sort(key=lambda r: r.name)
        return [r for r in rows if r.state == "READY" or not ready_only]

    async def load(self, name: str) -> None:
        """Load (or reload, if its files changed) one model; 400 with the reason if it fails."""
        report = await self.reloader.reload(name.removesuffix(PIPELINE))
        if report.failed:
            raise InvalidRequest(f"failed to load {name!r}: {next(iter(report.failed.values()))}")

    async def unload(self, name: str) -> None:
        try:
            await self.reloader.unload(name.removesuffix(PIPELINE))
        except ModelNotFound as exc:
            raise InvalidRequest(exc.detail) from exc

    async def _tensors(
        self, model: ServedModel, request: InferRequest, ticket: Ticket
    ) -> list[Tensor]:
        batch = self._graph_input(model, request.inputs)
        names = model.session.output_names
        wanted = _wanted(request, names)
        ticket.grow(len(batch) - 1)
        outputs = await self.service.infer(model, batch)
        return [Tensor(w.name, datatype_of(outputs[w.name].dtype), outputs[w.name]) for w in wanted]

    def _graph_input(self, model: ServedModel, inputs: list[Tensor]) -> Array:
        info = model.session.input
        expected = f"{info.name!r} ({info.datatype} {list(info.shape)})"
        if len(inputs) != 1 or inputs[0].name != info.name:
            given = [t.name for t in inputs]
            raise InvalidRequest(f"model {model.name!r} takes one input {expected}; got {given}")
        tensor = inputs[0]
        shape = tensor.array.shape
        if tensor.datatype != info.datatype:
            raise InvalidRequest(f"input {info.name!r} is {tensor.datatype}; expected {expected}")
        fits = len(shape) == len(info.shape) and all(
            want in (-1, got) for want, got in zip(info.shape[1:], shape[1:], strict=True)
        )
        if not fits or not shape or shape[0] < 1:
            raise InvalidRequest(f"input shape {list(shape)} does not fit {expected}")
        if shape[0] > self.max_items:
            raise TooManyImages(f"a batch of {shape[0]}; the limit is {self.max_items} a request")
        return tensor.array

    async def _pipeline(
        self, model: ServedModel, request: InferRequest, ticket: Ticket
    ) -> list[Tensor]:
        if len(request.inputs) != 1 or request.inputs[0].name != IMAGE:
            raise InvalidRequest(f"{model.name}{PIPELINE} takes one BYTES input {IMAGE!r}")
        _wanted(request, [RESULT])
        images = request.inputs[0]
        if images.datatype != "BYTES" or images.array.ndim not in (1, 2):
            raise InvalidRequest(f"input {IMAGE!r} must be BYTES of shape [N] or [N, 1]")
        encoded = [v if isinstance(v, bytes) else b"" for v in images.array.reshape(-1).tolist()]
        if not encoded:
            raise InvalidRequest(f"input {IMAGE!r} holds no image")
        if len(encoded) > self.max_items:
            raise TooManyImages(f"{len(encoded)} images; the limit is {self.max_items} a request")
        ticket.grow(len(encoded) - 1)
        inputs = [ImageInput(str(i), Encoded(data)) for i, data in enumerate(encoded)]
        outcomes = await self.service.predict(model, inputs, _params(request.parameters))
        errors = [o.error for o in outcomes if o.error is not None]
        if len(errors) == len(outcomes):
            raise errors[0]
        results = np.empty(len(outcomes), object)
        for index, outcome in enumerate(outcomes):
            if outcome.prediction is not None:
                p = outcome.prediction
                text = output_of(outcome.id, p.result, p.size_wh, p.timing_ms).model_dump_json(
                    exclude_none=True
                )
            else:
                assert outcome.error is not None
                text = json.dumps({"id": outcome.id, "error": _problem(outcome.error)})
            results[index] = text.encode()
        return [Tensor(RESULT, "BYTES", results)]


def _wanted(request: InferRequest, names: list[str]) -> list[Wanted]:
    if request.outputs is None:
        return [Wanted(n) for n in names]
    unknown = [w.name for w in request.outputs if w.name not in names]
    if unknown:
        raise InvalidRequest(f"no outputs named {unknown}; the model has {names}")
    return request.outputs


def _params(parameters: dict[str, Any]) -> Params:
    """Fovea's request parameters from the V2 request's `parameters` (others are ignored)."""
    try:
        return Params.model_validate({k: v for k, v in parameters.items() if k in _PARAMS})
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidParameter(detail) from exc


def _problem(error: FoveaError) -> dict[str, Any]:
    return {
        "type": "/problems/" + error.type,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }


def _index_entry(entry: ModelEntry) -> IndexEntry:
    status = entry.status
    state = {"ready": "READY", "loading": "LOADING"}.get(status, "UNAVAILABLE")
    reason = entry.error or ("" if status == "ready" else status)
    return IndexEntry(entry.name, entry.default_version or "", state, reason)


def _numeric(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)
