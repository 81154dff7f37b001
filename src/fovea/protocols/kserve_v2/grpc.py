"""KServe V2 over gRPC: `inference.GRPCInferenceService` with grpcio's asyncio server, in the
API's event loop, on the same models, keys, limits and metrics as HTTP. Keys come in metadata
(`authorization: Bearer <key>`, Basic with the key as password, or `x-api-key`). Outputs always
go back in `raw_output_contents`, which is what Triton's client reads."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import numpy as np
from grpc import aio

from fovea.api.metrics import Metrics
from fovea.api.security import Guard
from fovea.errors import FoveaError, InvalidRequest, ShuttingDown
from fovea.protocols.kserve_v2 import tensors
from fovea.protocols.kserve_v2._engine import Engine, InferRequest, InferResponse, Tensor, Wanted
from fovea.protocols.kserve_v2._proto import kserve_v2_pb2 as pb
from fovea.protocols.kserve_v2.client import GRPC_SERVICE
from fovea.runtime.session import Array

SERVICE = GRPC_SERVICE.strip("/")
Context = aio.ServicerContext[Any, Any]
_OPEN = {"ServerLive", "ServerReady"}  # as /v2/health: no key, answered while draining
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
}
# Typed contents field for each datatype (KServe V2 gRPC: InferTensorContents).
_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


class GrpcServer:
    def __init__(
        self, engine: Engine, guard: Guard, metrics: Metrics, max_message_bytes: int
    ) -> None:
        self.engine, self.guard, self.metrics = engine, guard, metrics
        self.server = aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", 2**31 - 1),
            ]
        )
        calls: dict[str, tuple[Callable[[Any, Context], Awaitable[Any]], Any, Any]] = {
            "ServerLive": (self.server_live, pb.ServerLiveRequest, pb.ServerLiveResponse),
            "ServerReady": (self.server_ready, pb.ServerReadyRequest, pb.ServerReadyResponse),
            "ModelReady": (self.model_ready, pb.ModelReadyRequest, pb.ModelReadyResponse),
            "ServerMetadata": (
                self.server_metadata,
                pb.ServerMetadataRequest,
                pb.ServerMetadataResponse,
            ),
            "ModelMetadata": (
                self.model_metadata,
                pb.ModelMetadataRequest,
                pb.ModelMetadataResponse,
            ),
            "ModelInfer": (self.model_infer, pb.ModelInferRequest, pb.ModelInferResponse),
            "RepositoryIndex": (self.index, pb.RepositoryIndexRequest, pb.RepositoryIndexResponse),
            "RepositoryModelLoad": (
                self.load,
                pb.RepositoryModelLoadRequest,
                pb.RepositoryModelLoadResponse,
            ),
            "RepositoryModelUnload": (
                self.unload,
                pb.RepositoryModelUnloadRequest,
                pb.RepositoryModelUnloadResponse,
            ),
        }
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._guarded(name, call),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
            for name, (call, request, response) in calls.items()
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),)
        )

    async def start(self, host: str, port: int) -> int:
        bound = self.server.add_insecure_port(f"{host}:{port}")
        await self.server.start()
        return bound

    async def stop(self, grace_s: float) -> None:
        await self.server.stop(grace_s)

    async def server_live(self, request: Any, context: Context) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Context) -> Any:
        return pb.ServerReadyResponse(ready=self.engine.ready())

    async def model_ready(self, request: Any, context: Context) -> Any:
        return pb.ModelReadyResponse(ready=self.engine.model_ready(request.name, request.version))

    async def server_metadata(self, request: Any, context: Context) -> Any:
        return pb.ServerMetadataResponse(**self.engine.server_metadata())

    async def model_metadata(self, request: Any, context: Context) -> Any:
        meta = self.engine.metadata(request.name, request.version)
        info = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=meta.name,
            versions=meta.versions,
            platform=meta.platform,
            inputs=[info(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.inputs],
            outputs=[info(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.outputs],
        )

    async def model_infer(self, request: Any, context: Context) -> Any:
        target = self.engine.resolve(request.model_name, request.model_version)
        with self.engine.admit(target) as ticket:
            answer = await self.engine.infer(target, _infer_request(request), ticket)
        return _infer_response(answer)

    async def index(self, request: Any, context: Context) -> Any:
        entry = pb.RepositoryIndexResponse.ModelIndex
        return pb.RepositoryIndexResponse(
            models=[
                entry(name=r.name, version=r.version, state=r.state, reason=r.reason)
                for r in self.engine.index(request.ready)
            ]
        )

    async def load(self, request: Any, context: Context) -> Any:
        if request.parameters:
            raise InvalidRequest(
                f"load parameters {sorted(request.parameters)} are not supported: Fovea loads "
                "model.toml and the version folders from its repository"
            )
        await self.engine.load(request.model_name)
        return pb.RepositoryModelLoadResponse()

    async def unload(self, request: Any, context: Context) -> Any:
        await self.engine.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()

    def _guarded(
        self, name: str, call: Callable[[Any, Context], Awaitable[Any]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        """Keys, rate limit and draining first; errors as status codes; every call counted."""

        async def guarded(request: Any, context: Context) -> Any:
            started, code = time.perf_counter(), grpc.StatusCode.OK
            try:
                if name not in _OPEN:
                    if self.engine.draining():
                        raise ShuttingDown("the server is shutting down; retry on another instance")
                    self.guard.check(_key(context), _peer(context))
                return await call(request, context)
            except FoveaError as exc:
                code = _CODES.get(exc.status, grpc.StatusCode.INTERNAL)
                self.metrics.errors.labels(exc.type).inc()
                await context.abort(code, exc.detail)
            finally:
                self.metrics.grpc_requests.labels(name, code.name).inc()
                self.metrics.grpc_seconds.labels(name).observe(time.perf_counter() - started)

        return guarded


def _key(context: Context) -> str | None:
    metadata = {k.lower(): v for k, v in context.invocation_metadata() or ()}
    authorization = str(metadata.get("authorization", ""))
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":  # tritonclient.grpc.auth.BasicAuth: the key as the password
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or user
    key = metadata.get("x-api-key")
    return str(key) if key else None


def _peer(context: Context) -> str:
    peer: str = context.peer() or "unknown"  # "ipv4:127.0.0.1:52814"
    kind, _, rest = peer.partition(":")
    return rest.rpartition(":")[0] if kind in ("ipv4", "ipv6") else peer


def _infer_request(request: Any) -> InferRequest:
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs")
    inputs = []
    for index, item in enumerate(request.inputs):
        shape = list(item.shape)
        if raw:
            array = tensors.from_binary(item.datatype, shape, raw[index])
        else:
            array = _typed(item.datatype, shape, item.contents)
        inputs.append(Tensor(item.name, item.datatype, array))
    outputs = [Wanted(o.name) for o in request.outputs] if request.outputs else None
    parameters = {k: _value(v) for k, v in request.parameters.items()}
    return InferRequest(inputs, outputs, request.id, parameters)


def _typed(datatype: str, shape: list[int], contents: Any) -> Array:
    field = _CONTENTS.get(datatype)
    if field is None:
        raise InvalidRequest(f"{datatype} inputs must come in raw_input_contents")
    values = list(getattr(contents, field))
    count = tensors.element_count(shape)
    if len(values) != count:
        raise InvalidRequest(f"{len(values)} values for shape {shape}, which needs {count}")
    if datatype == "BYTES":
        return tensors.from_binary_items(values).reshape(shape)
    return np.array(values, tensors.numpy_dtype(datatype)).reshape(shape)


def _value(parameter: Any) -> Any:
    choice = parameter.WhichOneof("parameter_choice")
    return getattr(parameter, choice) if choice else None


def _infer_response(answer: InferResponse) -> Any:
    output = pb.ModelInferResponse.InferOutputTensor
    return pb.ModelInferResponse(
        model_name=answer.model_name,
        model_version=answer.model_version,
        id=answer.id,
        outputs=[
            output(name=t.name, datatype=t.datatype, shape=list(t.array.shape))
            for t in answer.outputs
        ],
        raw_output_contents=[tensors.to_binary(t.array, t.datatype) for t in answer.outputs],
    )
