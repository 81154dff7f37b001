"""KServe V2 over HTTP: `/v2` routes as the KServe and Triton documents give them, with Triton's
binary tensor extension, gzip and deflate bodies and the model repository extension. Errors are
`{"error": "..."}` with the status, never problem+json (the route class answers them itself).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from fovea.api.security import Protected
from fovea.errors import FoveaError, InvalidRequest, RequestTooLarge, UnsupportedMediaType
from fovea.protocols.kserve_v2 import tensors
from fovea.protocols.kserve_v2._engine import (
    Engine,
    InferRequest,
    InferResponse,
    Target,
    Tensor,
    Wanted,
)
from fovea.protocols.kserve_v2.client import HEADER_LENGTH

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def status_of(error: FoveaError) -> int:
    """V2 clients expect 400 for a bad request (Triton: INVALID_ARG); other statuses stand."""
    return 400 if error.status == 422 else error.status


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status, headers=headers)


class _V2Route(APIRoute):
    """Every error of a V2 route, its dependencies' (keys, limits) included, as `{"error"}`."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except FoveaError as exc:
                request.app.state.metrics.errors.labels(exc.type).inc()
                retry = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
                return error_response(status_of(exc), exc.detail, retry)
            except RequestValidationError as exc:
                return error_response(400, "; ".join(str(e["msg"]) for e in exc.errors()))
            except HTTPException as exc:
                return error_response(exc.status_code, str(exc.detail))

        return answer


class V2Error(BaseModel):
    """Every V2 error, as the protocol has it."""

    error: str


_ERROR = {"model": V2Error, "description": 'An error: `{"error": "..."}`'}
_EMPTY = {"description": "The answer is the status; the body is empty.", "content": {}}
# Health stays open, as /health does; every other route needs a key where keys are set.
router = APIRouter(
    prefix="/v2",
    tags=["kserve-v2"],
    route_class=_V2Route,
    responses={s: _ERROR for s in (400, 401, 404, 413, 415, 422, 429, 502, 503)},
)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.kserve
    return engine


@router.get(
    "/health/live",
    summary="V2: the server is live (200, empty body)",
    response_class=Response,
    responses={200: _EMPTY},
)
async def live() -> Response:
    return Response(status_code=200)


@router.get(
    "/health/ready",
    summary="V2: every model is ready (200), else 400 (both with an empty body)",
    response_class=Response,
    responses={200: _EMPTY, 400: _EMPTY},
)
async def ready(request: Request) -> Response:
    return Response(status_code=200 if _engine(request).ready() else 400)


@router.get("", summary="V2 server metadata", dependencies=[Protected])
async def server_metadata(request: Request) -> dict[str, Any]:
    return _engine(request).server_metadata()


@router.get("/models/{model}", summary="V2 model metadata", dependencies=[Protected])
@router.get(
    "/models/{model}/versions/{version}", summary="V2 model metadata", dependencies=[Protected]
)
async def model_metadata(request: Request, model: str, version: str = "") -> dict[str, Any]:
    meta = _engine(request).metadata(model, version)
    return {
        "name": meta.name,
        "versions": meta.versions,
        "platform": meta.platform,
        "inputs": [_tensor_meta(t.name, t.datatype, t.shape) for t in meta.inputs],
        "outputs": [_tensor_meta(t.name, t.datatype, t.shape) for t in meta.outputs],
    }


_READY: dict[str, Any] = {
    "summary": "V2 model ready: 200 (empty body), else 400",
    "dependencies": [Protected],
    "response_class": Response,
    "responses": {200: _EMPTY},
}


@router.get("/models/{model}/ready", **_READY)
@router.get("/models/{model}/versions/{version}/ready", **_READY)
async def model_ready(request: Request, model: str, version: str = "") -> Response:
    if _engine(request).model_ready(model, version):
        return Response(status_code=200)
    return error_response(400, f"model {model!r} version {version or 'default'} is not ready")


_INFER: dict[str, Any] = {
    "summary": "V2 inference: JSON, or JSON then binary tensors",
    "description": "The body is the JSON inference request, or with "
    "`Inference-Header-Content-Length: <n>` n bytes of JSON followed by the binary inputs "
    "(Triton's binary tensor extension); `Content-Encoding: gzip|deflate` is inflated. "
    "`{model}.pipeline` takes encoded images (BYTES `IMAGE`) and answers Fovea's results "
    "as JSON (BYTES `RESULT`).",
    "dependencies": [Protected],
    "response_class": Response,
    "responses": {
        200: {
            "description": "The outputs: JSON, or JSON then binary tensors",
            "content": {"application/json": {}, "application/octet-stream": {}},
        }
    },
}


@router.post("/models/{model}/infer", **_INFER)
@router.post("/models/{model}/versions/{version}/infer", **_INFER)
async def infer(request: Request, model: str, version: str = "") -> Response:
    engine = _engine(request)
    target = engine.resolve(model, version)
    limit = request.app.state.settings.max_request_bytes
    with engine.admit(target) as ticket:  # a full model refuses before the body is read
        body = _decoded(await request.body(), request.headers.get("content-encoding", ""), limit)
        parsed, all_binary = _parse(body, request.headers.get(HEADER_LENGTH), target)
        answer = await engine.infer(target, parsed, ticket)
    return _respond(answer, parsed, all_binary, request.headers.get("accept-encoding", ""))


@router.post("/repository/index", summary="V2 repository index", dependencies=[Protected])
async def repository_index(request: Request) -> list[dict[str, str]]:
    ready_only = (await _json_body(request)).get("ready", False) is True
    return [
        {
            "name": r.name,
            **({"version": r.version} if r.version else {}),
            "state": r.state,
            "reason": r.reason,
        }
        for r in _engine(request).index(ready_only)
    ]


@router.post(
    "/repository/models/{model}/load",
    summary="V2 load (or reload) a model from the repository folder",
    dependencies=[Protected],
    response_class=Response,
    responses={200: _EMPTY},
)
async def load(request: Request, model: str) -> Response:
    parameters = (await _json_body(request)).get("parameters") or {}
    if parameters:
        raise InvalidRequest(
            f"load parameters {sorted(parameters)} are not supported: Fovea loads model.toml "
            "and the version folders from its repository"
        )
    await _engine(request).load(model)
    return Response(status_code=200)


@router.post(
    "/repository/models/{model}/unload",
    summary="V2 unload a model",
    dependencies=[Protected],
    response_class=Response,
    responses={200: _EMPTY},
)
async def unload(request: Request, model: str) -> Response:
    await _json_body(request)  # unload_dependents: Fovea's models have no dependents
    await _engine(request).unload(model)
    return Response(status_code=200)


async def _json_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} for none; tritonclient sends JSON with no Content-Type."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("the body must be a JSON object")
    return value


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def unknown(request: Request, path: str) -> Response:
    return error_response(404, f"{request.method} {request.url.path}: no such V2 endpoint")


class _Input(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: Any = None


class _Output(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class _Request(BaseModel):
    id: str = ""
    parameters: dict[str, Any] | None = None
    inputs: list[_Input]
    outputs: list[_Output] | None = None


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, never inflated past the request limit."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r}: use gzip or deflate")
    # gzip: a gzip header; deflate: zlib's header as HTTP means it (RFC 9110 8.4.1.2).
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidRequest(f"the {encoding} body does not inflate: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise RequestTooLarge(f"the body inflates past {limit} bytes (FOVEA_MAX_REQUEST_BYTES)")
    if not inflater.eof:
        raise InvalidRequest(f"the {encoding} body is cut short")
    return out


def _parse(body: bytes, header_length: str | None, target: Target) -> tuple[InferRequest, bool]:
    """The request, and whether every output goes binary (a raw binary request)."""
    if header_length is not None and header_length.strip() == "0":
        return _raw_binary(body, target), True
    size = len(body)
    if header_length is not None:
        if not header_length.strip().isdigit() or int(header_length) > len(body):
            raise InvalidRequest(f"{HEADER_LENGTH} {header_length!r} does not fit the body")
        size = int(header_length)
    try:
        parsed = _Request.model_validate_json(body[:size])
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise InvalidRequest(f"infer request {where}: {first['msg']}") from exc
    blobs, inputs = memoryview(body)[size:], []
    for item in parsed.inputs:
        binary_size = (item.parameters or {}).get("binary_data_size")
        if binary_size is not None:
            if not isinstance(binary_size, int) or binary_size < 0 or binary_size > len(blobs):
                raise InvalidRequest(
                    f"input {item.name!r}: binary_data_size {binary_size!r} does not fit"
                )
            array = tensors.from_binary(item.datatype, item.shape, blobs[:binary_size])
            blobs = blobs[binary_size:]
        elif item.data is None:
            raise InvalidRequest(f"input {item.name!r} has neither data nor binary_data_size")
        else:
            array = tensors.from_json(item.datatype, item.shape, item.data)
        inputs.append(Tensor(item.name, item.datatype, array))
    if len(blobs):
        raise InvalidRequest(f"{len(blobs)} bytes after the inputs' binary data")
    parameters = parsed.parameters or {}
    default = parameters.get("binary_data_output", False) is True
    outputs = None
    if parsed.outputs is not None:
        outputs = [Wanted(o.name, _binary(o.parameters, default)) for o in parsed.outputs]
    request = InferRequest(inputs, outputs, parsed.id, parameters)
    return request, False


def _binary(parameters: dict[str, Any] | None, default: bool) -> bool:
    value = (parameters or {}).get("binary_data")
    return default if value is None else value is True


def _raw_binary(body: bytes, target: Target) -> InferRequest:
    """Triton's raw binary request: the whole body is the only input, as a batch of one."""
    if target.pipeline:
        return InferRequest([Tensor("IMAGE", "BYTES", tensors.from_binary_items([body]))])
    info = target.model.session.input
    fixed = [d for d in info.shape[1:] if d != -1]
    if len(fixed) != len(info.shape) - 1:
        raise InvalidRequest(
            f"a raw binary request needs fixed dimensions; {info.name!r} is {list(info.shape)}"
        )
    shape = [1, *fixed]
    return InferRequest(
        [Tensor(info.name, info.datatype, tensors.from_binary(info.datatype, shape, body))]
    )


def _respond(
    answer: InferResponse, request: InferRequest, all_binary: bool, accept: str
) -> Response:
    default = (request.parameters.get("binary_data_output", False) is True) or all_binary
    binary_of = {w.name: w.binary for w in request.outputs or []}
    outputs, blobs = [], []
    for tensor in answer.outputs:
        meta = _tensor_meta(tensor.name, tensor.datatype, tensor.array.shape)
        wants = binary_of.get(tensor.name)
        if all_binary or (default if wants is None else wants):
            blob = tensors.to_binary(tensor.array, tensor.datatype)
            meta["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            meta["data"] = tensors.to_json(tensor.array, tensor.datatype)
        outputs.append(meta)
    header: dict[str, Any] = {
        "model_name": answer.model_name,
        "model_version": answer.model_version,
    }
    if answer.id:
        header["id"] = answer.id
    header["outputs"] = outputs
    head = json.dumps(header, separators=(",", ":")).encode()
    headers = {}
    if blobs:
        headers[HEADER_LENGTH] = str(len(head))
    body = b"".join([head, *blobs])  # one copy of MBs of outputs, not two
    encoding = _accepted(accept)
    if encoding == "gzip":
        body = gzip.compress(body, compresslevel=1)
    elif encoding == "deflate":
        body = zlib.compress(body, 1)
    if encoding:
        headers["Content-Encoding"] = encoding
    media = "application/octet-stream" if blobs else "application/json"
    return Response(body, 200, headers=headers, media_type=media)


def _accepted(accept: str) -> str | None:
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return next((e for e in ("gzip", "deflate") if e in offered), None)


def _tensor_meta(name: str, datatype: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [int(d) for d in shape]}
