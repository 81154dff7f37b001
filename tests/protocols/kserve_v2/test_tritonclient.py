"""Triton's own clients, unchanged, against a real `fovea serve` with HTTP and gRPC on."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc.auth import BasicAuth
from tritonclient.utils import InferenceServerException

from fovea.bench.server import free_port
from tests.helpers import image_bytes
from tests.servers import fovea_server


@dataclass
class Servers:
    http: str  # host:port, as tritonclient wants it
    grpc: str


@pytest.fixture(scope="module")
def servers(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    port = free_port()
    log_dir = tmp_path_factory.mktemp("triton")
    with fovea_server(model_repo, log_dir, FOVEA_GRPC_PORT=str(port)) as running:
        yield Servers(running.url.removeprefix("http://"), f"127.0.0.1:{port}")


def colours(n: int) -> np.ndarray:
    batch = np.full((n, 3, 32, 32), 0.1, np.float32)
    for i in range(n):
        batch[i, i % 3] = 0.9
    return batch


def in_process(model_repo: Path, model: str, batch: np.ndarray) -> dict[str, np.ndarray]:
    """The same input through ONNX Runtime here: what every answer must equal."""
    # One intra-op thread, as Fovea runs it: sums split over threads round differently.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    path = str(model_repo / model / "1" / "model.onnx")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"images": batch}), strict=True))


def test_http_health_and_metadata(servers: Servers) -> None:
    client = httpclient.InferenceServerClient(servers.http)
    assert client.is_server_live()
    assert not client.is_server_ready()  # the test repository holds broken models
    assert client.is_model_ready("colour-test")
    assert client.is_model_ready("yolov8-test", "1")
    assert not client.is_model_ready("broken-onnx")
    assert not client.is_model_ready("nope")
    meta = client.get_model_metadata("channel-test")
    assert meta["platform"] == "onnx_onnxv1"
    assert meta["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 3, 64, 64]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 3, 64, 64]}]
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        client.get_model_metadata("nope")
    client.close()


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model", ["colour-test", "colour-batched", "channel-test"])
def test_http_infer_equals_onnx_runtime(
    servers: Servers, model_repo: Path, model: str, binary: bool
) -> None:
    size = 64 if model.startswith("channel") else 32
    batch = np.random.default_rng(0).random((2, 3, size, size), np.float32)
    client = httpclient.InferenceServerClient(servers.http)
    tensor = httpclient.InferInput("images", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=binary)
    wanted = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
    result = client.infer(model, [tensor], outputs=wanted, request_id="r-7")
    assert result.get_response()["id"] == "r-7"
    expected = in_process(model_repo, model.replace("-batched", "-test"), batch)["logits"]
    np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6)
    client.close()


def test_http_async_infer_and_compression(servers: Servers, model_repo: Path) -> None:
    client = httpclient.InferenceServerClient(servers.http, concurrency=4)
    batches = [colours(n) for n in (1, 2, 3, 4)]
    pending = []
    for batch in batches:
        tensor = httpclient.InferInput("images", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        pending.append(
            client.async_infer(
                "colour-batched",
                [tensor],
                request_compression_algorithm="gzip",
                response_compression_algorithm="deflate",
            )
        )
    for batch, request in zip(batches, pending, strict=True):
        expected = in_process(model_repo, "colour-test", batch)["logits"]
        np.testing.assert_allclose(request.get_result().as_numpy("logits"), expected, rtol=1e-6)
    client.close()


def test_http_pipeline_view_gives_detections(servers: Servers) -> None:
    client = httpclient.InferenceServerClient(servers.http)
    images = httpclient.InferInput("IMAGE", [2], "BYTES")
    images.set_data_from_numpy(
        np.array([image_bytes((1000, 600)), image_bytes((600, 1000))], object)
    )
    result = client.infer("yolov8-test.pipeline", [images], parameters={"score_threshold": 0.5})
    first, second = (json.loads(text) for text in result.as_numpy("RESULT"))
    assert [d["label"] for d in first["detections"]] == ["dog", "person"]
    np.testing.assert_allclose(second["detections"][0]["box"], [112.5, 312.5, 425.0, 625.0], atol=1)
    client.close()


def test_http_errors_reach_the_client(servers: Servers) -> None:
    client = httpclient.InferenceServerClient(servers.http)
    tensor = httpclient.InferInput("pixels", [1, 3, 32, 32], "FP32")
    tensor.set_data_from_numpy(colours(1))
    with pytest.raises(InferenceServerException, match="takes one input 'images'") as caught:
        client.infer("colour-test", [tensor])
    assert caught.value.status() == "400"
    with pytest.raises(InferenceServerException, match="is failed") as caught:
        client.infer("broken-onnx", [tensor])
    assert caught.value.status() == "503"
    client.close()


def test_grpc_health_and_metadata(servers: Servers) -> None:
    client = grpcclient.InferenceServerClient(servers.grpc)
    assert client.is_server_live()
    assert not client.is_server_ready()
    assert client.is_model_ready("colour-test")
    assert client.is_model_ready("colour-test.pipeline")
    assert not client.is_model_ready("broken-toml")
    meta = client.get_model_metadata("yolov8-test", as_json=True)
    assert meta["platform"] == "onnx_onnxv1"
    assert meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [
        {"name": "images", "datatype": "FP32", "shape": ["-1", "3", "640", "640"]}
    ]
    assert client.get_server_metadata().name == "fovea"
    with pytest.raises(InferenceServerException, match="no model named") as caught:
        client.get_model_metadata("nope")
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    index = {
        m["name"]: m["state"] for m in client.get_model_repository_index(as_json=True)["models"]
    }
    assert index["colour-test"] == "READY"
    assert index["broken-onnx"] == "UNAVAILABLE"
    client.close()


@pytest.mark.parametrize("model", ["colour-test", "colour-batched", "red-test"])
def test_grpc_infer_equals_onnx_runtime(servers: Servers, model_repo: Path, model: str) -> None:
    size = 64 if model == "red-test" else 32
    batch = np.random.default_rng(1).random((3, 3, size, size), np.float32)
    client = grpcclient.InferenceServerClient(servers.grpc)
    tensor = grpcclient.InferInput("images", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    result = client.infer(model, [tensor], request_id="g-1")
    assert result.get_response().id == "g-1"
    expected = in_process(model_repo, model.replace("-batched", "-test"), batch)["logits"]
    np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6)
    client.close()


def test_grpc_async_infer_and_pipeline(servers: Servers, model_repo: Path) -> None:
    client = grpcclient.InferenceServerClient(servers.grpc)
    answers: queue.Queue[tuple[object, object]] = queue.Queue()
    batch = colours(4)
    tensor = grpcclient.InferInput("images", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    for _ in range(3):
        client.async_infer(
            "colour-batched", [tensor], lambda result, error: answers.put((result, error))
        )
    expected = in_process(model_repo, "colour-test", batch)["logits"]
    for _ in range(3):
        result, error = answers.get(timeout=30)
        assert error is None
        np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-6)  # type: ignore[attr-defined]
    images = grpcclient.InferInput("IMAGE", [1], "BYTES")
    images.set_data_from_numpy(np.array([image_bytes((64, 64), (240, 5, 5), "PNG")], object))
    result = client.infer("colour-test.pipeline", [images], parameters={"top_k": 2})
    [text] = result.as_numpy("RESULT")
    assert json.loads(text)["classes"][0]["label"] == "red"
    bad = grpcclient.InferInput("images", [1, 3, 32, 32], "INT32")
    bad.set_data_from_numpy(np.zeros((1, 3, 32, 32), np.int32))
    with pytest.raises(InferenceServerException, match="is INT32") as caught:
        client.infer("colour-test", [bad])
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    client.close()


def test_keys_over_both_protocols(model_repo: Path, tmp_path: Path) -> None:
    port = free_port()
    with fovea_server(
        model_repo, tmp_path, FOVEA_GRPC_PORT=str(port), FOVEA_API_KEYS="k1"
    ) as running:
        http = httpclient.InferenceServerClient(running.url.removeprefix("http://"))
        assert http.is_server_live()
        with pytest.raises(InferenceServerException, match="needs an API key") as caught:
            http.get_model_metadata("colour-test")
        assert caught.value.status() == "401"
        assert http.get_model_metadata("colour-test", headers={"Authorization": "Bearer k1"})
        http.close()
        grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        assert grpc.is_server_live()
        with pytest.raises(InferenceServerException) as caught:
            grpc.get_model_metadata("colour-test")
        assert caught.value.status() == "StatusCode.UNAUTHENTICATED"
        assert grpc.get_model_metadata("colour-test", headers={"authorization": "Bearer k1"})
        grpc.register_plugin(BasicAuth("fovea", "k1"))  # the key as the password
        tensor = grpcclient.InferInput("images", [1, 3, 32, 32], "FP32")
        tensor.set_data_from_numpy(colours(1))
        assert grpc.infer("colour-test", [tensor]).as_numpy("logits").shape == (1, 3)
        grpc.close()


def test_grpc_repository_calls(servers: Servers) -> None:
    client = grpcclient.InferenceServerClient(servers.grpc)
    client.unload_model("red-test")
    assert not client.is_model_ready("red-test")
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert (index["red-test"].state, index["red-test"].reason) == ("UNAVAILABLE", "unloaded")
    client.load_model("red-test")
    assert client.is_model_ready("red-test")
    with pytest.raises(InferenceServerException, match="not supported") as caught:
        client.load_model("red-test", config='{"backend": "onnxruntime"}')
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    with pytest.raises(InferenceServerException, match="no model folder named 'zzz'"):
        client.load_model("zzz")
    client.close()


def test_grpc_typed_contents(servers: Servers, model_repo: Path) -> None:
    """Clients other than Triton's may send typed contents instead of raw bytes."""
    import grpc

    from fovea.protocols.kserve_v2._proto import kserve_v2_pb2 as pb

    batch = colours(2)
    tensor = pb.ModelInferRequest.InferInputTensor
    contents = pb.InferTensorContents
    with grpc.insecure_channel(servers.grpc) as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        request = pb.ModelInferRequest(
            model_name="colour-test",
            inputs=[
                tensor(
                    name="images",
                    datatype="FP32",
                    shape=[2, 3, 32, 32],
                    contents=contents(fp32_contents=batch.ravel().tolist()),
                )
            ],
            outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="logits")],
        )
        answer = infer(request)
        logits = np.frombuffer(answer.raw_output_contents[0], np.float32).reshape(2, 3)
        np.testing.assert_allclose(
            logits, in_process(model_repo, "colour-test", batch)["logits"], rtol=1e-6
        )
        photo = image_bytes((30, 30), (5, 5, 250), "PNG")
        request = pb.ModelInferRequest(
            model_name="colour-test.pipeline",
            parameters={"top_k": pb.InferParameter(int64_param=1)},
            inputs=[
                tensor(
                    name="IMAGE",
                    datatype="BYTES",
                    shape=[1],
                    contents=contents(bytes_contents=[photo]),
                )
            ],
        )
        [raw] = infer(request).raw_output_contents
        assert json.loads(raw[4:])["classes"] == [
            {"label": "blue", "class_id": 2, "score": pytest.approx(1.0, abs=1e-3)}
        ]
        for bad, message in [
            (tensor(name="images", datatype="FP16", shape=[1]), "FP16 inputs must come in raw"),
            (
                tensor(
                    name="images",
                    datatype="FP32",
                    shape=[2],
                    contents=contents(fp32_contents=[1.0]),
                ),
                "1 values for shape",
            ),
        ]:
            with pytest.raises(grpc.RpcError, match=message):
                infer(pb.ModelInferRequest(model_name="colour-test", inputs=[bad]))
        with pytest.raises(grpc.RpcError, match="2 raw_input_contents for 1 inputs"):
            infer(
                pb.ModelInferRequest(
                    model_name="colour-test",
                    inputs=[tensor(name="images", datatype="FP32", shape=[1])],
                    raw_input_contents=[b"", b""],
                )
            )
