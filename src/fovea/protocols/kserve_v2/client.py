"""Blocking KServe V2 clients over HTTP (binary tensors, httpx, pooled) and gRPC (raw contents,
one multiplexed channel): model metadata and infer, for Fovea's remote backends. Failures are
`NotDelivered` (nothing ran: safe to try again), `BackendUnavailable` or `BackendError`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from fovea.errors import BackendError, BackendUnavailable, FoveaError
from fovea.protocols.kserve_v2 import tensors
from fovea.runtime.remote_options import RemoteOptions
from fovea.runtime.session import Array, TensorInfo

HEADER_LENGTH = "Inference-Header-Content-Length"
GRPC_SERVICE = "/inference.GRPCInferenceService/"
_MAX_MESSAGE = 2**31 - 1


class NotDelivered(BackendUnavailable):
    """The call never reached the model (refused connection, a 503 refusal): safe to retry."""


@dataclass(frozen=True)
class RemoteMetadata:
    platform: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


class V2Client(Protocol):
    def metadata(self) -> RemoteMetadata: ...

    def infer(self, name: str, batch: Array, outputs: list[TensorInfo]) -> dict[str, Array]: ...

    def close(self) -> None: ...


def connect(options: RemoteOptions) -> V2Client:
    if options.protocol == "grpc":
        return GrpcClient(options)
    return HttpClient(options)


class HttpClient:
    def __init__(self, options: RemoteOptions) -> None:
        self.options = options
        version = f"/versions/{options.version}" if options.version else ""
        self.path = f"/v2/models/{options.model}{version}"
        limits = httpx.Limits(
            max_connections=options.max_connections,
            max_keepalive_connections=options.max_connections,
        )
        self.http = httpx.Client(
            base_url=options.url,
            timeout=options.timeout_s,
            limits=limits,
            trust_env=False,
            headers={"Accept-Encoding": "identity"},  # tensors on a LAN: no CPU spent on gzip
        )

    def metadata(self) -> RemoteMetadata:
        body = _json(self._send("GET", self.path).content)
        try:
            return RemoteMetadata(
                str(body.get("platform", "")),
                [_tensor_info(t) for t in body["inputs"]],
                [_tensor_info(t) for t in body["outputs"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{self._where()}: model metadata without {exc}") from exc

    def infer(self, name: str, batch: Array, outputs: list[TensorInfo]) -> dict[str, Array]:
        datatype = tensors.datatype_of(batch.dtype)
        data = tensors.to_binary(batch, datatype)
        header = json.dumps(
            {
                "inputs": [
                    {
                        "name": name,
                        "shape": list(batch.shape),
                        "datatype": datatype,
                        "parameters": {"binary_data_size": len(data)},
                    }
                ],
                "outputs": [{"name": o.name, "parameters": {"binary_data": True}} for o in outputs],
            }
        ).encode()
        response = self._send(
            "POST",
            self.path + "/infer",
            content=header + data,
            headers={HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"},
        )
        try:
            return _http_outputs(response)
        except FoveaError as exc:
            raise BackendError(f"{self._where()}: unreadable answer: {exc.detail}") from exc

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise NotDelivered(f"{self._where()}: cannot connect: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise BackendUnavailable(f"{self._where()}: no answer in time ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"{self._where()}: connection failed: {exc!r}") from exc
        if response.status_code == 200:
            return response
        message = _error_message(response.content)
        detail = f"{self._where()} answered {response.status_code}: {message}"
        if response.status_code == 503:
            raise NotDelivered(detail)
        raise BackendError(detail)

    def _where(self) -> str:
        return f"backend {self.options.url} model {self.options.model!r}"


class GrpcClient:
    def __init__(self, options: RemoteOptions) -> None:
        try:
            import grpc

            from fovea.protocols.kserve_v2._proto import kserve_v2_pb2 as pb
        except ImportError as exc:  # pragma: no cover - the grpc extra is in dev
            raise BackendError("protocol grpc needs: pip install 'fovea-serve[grpc]'") from exc
        self.options, self.grpc, self.pb = options, grpc, pb
        target = options.url.removeprefix("grpc://")
        self.channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ],
        )
        self._metadata = self.channel.unary_unary(
            GRPC_SERVICE + "ModelMetadata",
            request_serializer=pb.ModelMetadataRequest.SerializeToString,
            response_deserializer=pb.ModelMetadataResponse.FromString,
        )
        self._infer = self.channel.unary_unary(
            GRPC_SERVICE + "ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )

    def metadata(self) -> RemoteMetadata:
        request = self.pb.ModelMetadataRequest(
            name=self.options.model, version=self.options.version
        )
        answer = self._call(self._metadata, request)
        infos = [
            [TensorInfo(t.name, t.datatype, tuple(t.shape)) for t in group]
            for group in (answer.inputs, answer.outputs)
        ]
        return RemoteMetadata(answer.platform, infos[0], infos[1])

    def infer(self, name: str, batch: Array, outputs: list[TensorInfo]) -> dict[str, Array]:
        pb = self.pb
        datatype = tensors.datatype_of(batch.dtype)
        request = pb.ModelInferRequest(
            model_name=self.options.model,
            model_version=self.options.version,
            inputs=[
                pb.ModelInferRequest.InferInputTensor(
                    name=name, datatype=datatype, shape=list(batch.shape)
                )
            ],
            outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=o.name) for o in outputs],
            raw_input_contents=[tensors.to_binary(batch, datatype)],
        )
        answer = self._call(self._infer, request)
        try:
            return {
                out.name: tensors.from_binary(out.datatype, list(out.shape), raw)
                for out, raw in zip(answer.outputs, answer.raw_output_contents, strict=True)
            }
        except (FoveaError, ValueError) as exc:
            raise BackendError(f"{self._where()}: unreadable answer: {exc}") from exc

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        codes = self.grpc.StatusCode
        try:
            return method(request, timeout=self.options.timeout_s)
        except self.grpc.RpcError as exc:
            code, detail = exc.code(), exc.details()
            message = f"{self._where()}: {code.name}: {detail}"
            if code is codes.UNAVAILABLE:
                raise NotDelivered(message) from exc
            if code is codes.DEADLINE_EXCEEDED:
                raise BackendUnavailable(message) from exc
            raise BackendError(message) from exc

    def _where(self) -> str:
        return f"backend {self.options.url} (grpc) model {self.options.model!r}"


def _http_outputs(response: httpx.Response) -> dict[str, Array]:
    body = response.content
    length = response.headers.get(HEADER_LENGTH)
    header_size = int(length) if length and length.isdigit() else len(body)
    header = _json(body[:header_size])
    offset, result = header_size, {}
    for out in header.get("outputs", []):
        shape, datatype = out["shape"], out["datatype"]
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is None:
            result[out["name"]] = tensors.from_json(datatype, shape, out["data"])
        else:
            result[out["name"]] = tensors.from_binary(datatype, shape, body[offset : offset + size])
            offset += size
    return result


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BackendError(f"the backend's answer is not JSON: {raw[:80]!r}") from exc
    if not isinstance(value, dict):
        raise BackendError("the backend's answer is not a JSON object")
    return value


def _error_message(raw: bytes) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", "replace")
    if isinstance(value, dict):
        return str(value.get("error") or value.get("detail") or value)
    return str(value)


def _tensor_info(raw: dict[str, Any]) -> TensorInfo:
    return TensorInfo(str(raw["name"]), str(raw["datatype"]), tuple(int(d) for d in raw["shape"]))
