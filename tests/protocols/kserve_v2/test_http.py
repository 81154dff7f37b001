"""KServe V2 over HTTP, in process: routes, the binary extension, encodings, errors as {"error"}."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.protocols.kserve_v2 import tensors
from tests.helpers import image_bytes

HEADER = "Inference-Header-Content-Length"


def colours(n: int) -> np.ndarray:
    """n images of 32x32 with a dominant channel each: red, green, blue, red..."""
    batch = np.full((n, 3, 32, 32), 0.1, np.float32)
    for i in range(n):
        batch[i, i % 3] = 0.9
    return batch


def ort_run(model_repo: Path, model: str, batch: np.ndarray) -> dict[str, np.ndarray]:
    # One intra-op thread, as Fovea runs it: sums split over threads round differently.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    path = str(model_repo / model / "1" / "model.onnx")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"images": batch}), strict=True))


def binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {HEADER: str(len(head))}


def split(response: Any) -> tuple[dict[str, Any], bytes]:
    size = int(response.headers.get(HEADER, len(response.content)))
    return json.loads(response.content[:size]), response.content[size:]


def test_server_metadata_and_health(client: TestClient) -> None:
    meta = client.get("/v2").json()
    assert meta["name"] == "fovea"
    assert {"binary_tensor_data", "model_repository"} <= set(meta["extensions"])
    live = client.get("/v2/health/live")
    assert (live.status_code, live.content) == (200, b"")
    assert (
        client.get("/v2/health/ready").status_code == 400
    )  # the test repository has broken models


def test_model_metadata_from_the_graph(client: TestClient) -> None:
    meta = client.get("/v2/models/yolov8-test").json()
    assert meta == {
        "name": "yolov8-test",
        "versions": ["1", "2"],
        "platform": "onnx_onnxv1",
        "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 3, 640, 640]}],
        "outputs": [{"name": "output0", "datatype": "FP32", "shape": [-1, 7, 4]}],
    }
    assert client.get("/v2/models/yolov8-test/versions/1").json()["name"] == "yolov8-test"
    fixed = client.get("/v2/models/yolov5-test").json()["inputs"][0]
    assert fixed["shape"] == [1, 3, 640, 640]
    pipeline = client.get("/v2/models/yolov8-test.pipeline").json()
    assert pipeline["platform"] == "fovea_pipeline"
    assert pipeline["inputs"] == [{"name": "IMAGE", "datatype": "BYTES", "shape": [-1]}]
    assert pipeline["outputs"] == [{"name": "RESULT", "datatype": "BYTES", "shape": [-1]}]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v2/models/nope", 404, "no model named 'nope'"),
        ("/v2/models/yolov8-test/versions/9", 404, "no version '9'"),
        ("/v2/models/broken-onnx", 503, "broken-onnx' is failed"),
        ("/v2/nothing/here", 404, "no such V2 endpoint"),
    ],
)
def test_errors_are_json_with_an_error_field(
    client: TestClient, path: str, status: int, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_model_ready(client: TestClient) -> None:
    assert client.get("/v2/models/yolov8-test/ready").status_code == 200
    assert client.get("/v2/models/yolov8-test/versions/2/ready").status_code == 200
    assert client.get("/v2/models/yolov8-test.pipeline/ready").status_code == 200
    for path in ("/v2/models/nope/ready", "/v2/models/broken-toml/ready"):
        response = client.get(path)
        assert response.status_code == 400
        assert "not ready" in response.json()["error"]


def test_infer_json_in_json_out_matches_onnx_runtime(client: TestClient, model_repo: Path) -> None:
    batch = colours(3)
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "images", "shape": [3, 3, 32, 32], "datatype": "FP32", "data": batch.tolist()}
        ],
    }
    response = client.post("/v2/models/colour-test/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert (answer["model_name"], answer["model_version"], answer["id"]) == (
        "colour-test",
        "1",
        "req-1",
    )
    [out] = answer["outputs"]
    assert (out["name"], out["datatype"], out["shape"]) == ("logits", "FP32", [3, 3])
    expected = ort_run(model_repo, "colour-test", batch)["logits"]
    np.testing.assert_allclose(np.array(out["data"]).reshape(3, 3), expected, rtol=1e-6)


@pytest.mark.parametrize("model", ["colour-test", "colour-batched"])
def test_infer_binary_in_binary_out(client: TestClient, model_repo: Path, model: str) -> None:
    batch = colours(2)
    data = tensors.to_binary(batch, "FP32")
    header = {
        "inputs": [
            {
                "name": "images",
                "shape": [2, 3, 32, 32],
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(data)},
            }
        ],
        "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
    }
    content, headers = binary_body(header, data)
    response = client.post(f"/v2/models/{model}/infer", content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    answer, rest = split(response)
    [out] = answer["outputs"]
    assert out["parameters"] == {"binary_data_size": len(rest)} == {"binary_data_size": 24}
    logits = np.asarray(tensors.from_binary("FP32", out["shape"], rest), np.float32)
    np.testing.assert_allclose(
        logits, ort_run(model_repo, "colour-test", batch)["logits"], rtol=1e-6
    )


def test_binary_data_output_applies_unless_an_output_says_otherwise(client: TestClient) -> None:
    header = {
        "parameters": {"binary_data_output": True},
        "inputs": [
            {
                "name": "images",
                "shape": [1, 3, 32, 32],
                "datatype": "FP32",
                "data": colours(1).ravel().tolist(),
            }
        ],
    }
    response = client.post("/v2/models/colour-test/infer", json=header)
    answer, rest = split(response)
    assert answer["outputs"][0]["parameters"]["binary_data_size"] == len(rest) == 12
    header["outputs"] = [{"name": "logits", "parameters": {"binary_data": False}}]
    response = client.post("/v2/models/colour-test/infer", json=header)
    assert HEADER not in response.headers
    assert len(response.json()["outputs"][0]["data"]) == 3


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_both_ways(client: TestClient, encoding: str) -> None:
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "images",
                    "shape": [1, 3, 32, 32],
                    "datatype": "FP32",
                    "data": colours(1).ravel().tolist(),
                }
            ]
        }
    ).encode()
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    response = client.post(
        "/v2/models/colour-test/infer",
        content=packed,
        headers={"Content-Encoding": encoding, "Accept-Encoding": encoding},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-encoding"] == encoding
    assert response.json()["outputs"][0]["shape"] == [1, 3]  # httpx inflated it


def test_a_compressed_body_is_bounded_and_checked(model_repo: Path) -> None:
    settings = Settings(model_repository=model_repo, workers=1, max_request_bytes=10_000)
    with TestClient(create_app(settings)) as small:
        bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
        response = small.post(
            "/v2/models/colour-test/infer", content=bomb, headers={"Content-Encoding": "gzip"}
        )
        assert response.status_code == 413
        assert "inflates past" in response.json()["error"]
        huge = small.post("/v2/models/colour-test/infer", content=b"x" * 20_000)
        assert huge.status_code == 413
        assert huge.headers["content-type"] == "application/json"
        assert "FOVEA_MAX_REQUEST_BYTES" in huge.json()["error"]
        for encoding, content, message in [
            ("br", b"x", "use gzip or deflate"),
            ("gzip", b"not gzip", "does not inflate"),
            ("gzip", gzip.compress(b"{}")[:-12], "cut short"),
        ]:
            response = small.post(
                "/v2/models/colour-test/infer",
                content=content,
                headers={"Content-Encoding": encoding},
            )
            assert response.status_code in (400, 415)
            assert message in response.json()["error"]


def test_the_pipeline_view_returns_fovea_results(client: TestClient) -> None:
    red, green = image_bytes((300, 200), (250, 10, 10), "PNG"), image_bytes((40, 40), (5, 240, 5))
    images = np.array([red, green, b"not an image"], object)
    data = tensors.to_binary(images, "BYTES")
    header = {
        "parameters": {"top_k": 1},
        "inputs": [
            {
                "name": "IMAGE",
                "shape": [3],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(data)},
            }
        ],
        "outputs": [{"name": "RESULT", "parameters": {"binary_data": False}}],
    }
    content, headers = binary_body(header, data)
    response = client.post(
        "/v2/models/colour-test.pipeline/infer", content=content, headers=headers
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == "colour-test.pipeline"
    first, second, bad = (json.loads(text) for text in answer["outputs"][0]["data"])
    assert (first["width"], first["height"]) == (300, 200)
    assert [c["label"] for c in first["classes"]] == ["red"]
    assert [c["label"] for c in second["classes"]] == ["green"]
    assert bad["id"] == "2"
    assert bad["error"]["type"] == "/problems/image-decode"


def test_the_pipeline_view_of_a_detector(client: TestClient) -> None:
    data = tensors.to_binary(np.array([image_bytes((1000, 600))], object), "BYTES")
    header = {
        "inputs": [
            {
                "name": "IMAGE",
                "shape": [1, 1],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(data)},
            }
        ]
    }
    content, headers = binary_body(header, data)
    response = client.post(
        "/v2/models/yolov8-test.pipeline/infer", content=content, headers=headers
    )
    [result] = response.json()["outputs"][0]["data"]
    dets = json.loads(result)["detections"]
    assert [d["label"] for d in dets] == ["dog", "person"]
    np.testing.assert_allclose(dets[0]["box"], [312.5, 112.5, 625.0, 425.0], atol=1.0)


def test_raw_binary_requests(client: TestClient, model_repo: Path) -> None:
    batch = colours(1)
    response = client.post(
        "/v2/models/colour-test/infer", content=batch.tobytes(), headers={HEADER: "0"}
    )
    answer, rest = split(response)
    np.testing.assert_allclose(
        np.asarray(tensors.from_binary("FP32", answer["outputs"][0]["shape"], rest), np.float32),
        ort_run(model_repo, "colour-test", batch)["logits"],
        rtol=1e-6,
    )
    photo = image_bytes((50, 50), (10, 10, 240), "PNG")
    response = client.post(
        "/v2/models/colour-test.pipeline/infer", content=photo, headers={HEADER: "0"}
    )
    answer, rest = split(response)
    [text] = tensors.from_binary("BYTES", answer["outputs"][0]["shape"], rest).tolist()
    assert json.loads(text)["classes"][0]["label"] == "blue"


def _json_input(**changes: Any) -> dict[str, Any]:
    item = {
        "name": "images",
        "shape": [1, 3, 32, 32],
        "datatype": "FP32",
        "data": colours(1).ravel().tolist(),
    }
    return {"inputs": [{**item, **changes}]}


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        ("colour-test", _json_input(name="x"), "takes one input 'images'"),
        ("colour-test", _json_input(datatype="INT32", data=[0] * 3072), "is INT32"),
        ("colour-test", _json_input(shape=[1, 3, 16, 64]), "does not fit"),
        ("colour-test", _json_input(shape=[0, 3, 32, 32], data=[]), "does not fit"),
        ("colour-test", _json_input(data=None), "neither data nor binary_data_size"),
        (
            "colour-test",
            {**_json_input(), "outputs": [{"name": "nope"}]},
            "no outputs named ['nope']",
        ),
        ("colour-test", {"inputs": "x"}, "infer request inputs"),
        ("colour-test", _json_input(shape=[9, 3, 32, 32], data=[0.0] * 9 * 3072), "limit is 8"),
        ("colour-test.pipeline", _json_input(), "takes one BYTES input 'IMAGE'"),
        (
            "colour-test.pipeline",
            {"inputs": [{"name": "IMAGE", "shape": [1, 1, 1], "datatype": "BYTES", "data": ["x"]}]},
            "[N] or [N, 1]",
        ),
        (
            "colour-test.pipeline",
            {"inputs": [{"name": "IMAGE", "shape": [0], "datatype": "BYTES", "data": []}]},
            "holds no image",
        ),
        (
            "colour-test.pipeline",
            {
                "parameters": {"top_k": 0},
                "inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
            },
            "top_k",
        ),
        (
            "colour-test.pipeline",
            {"inputs": [{"name": "IMAGE", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
            "not a supported image",
        ),
        (
            "colour-test.pipeline",
            {"inputs": [{"name": "IMAGE", "shape": [9], "datatype": "BYTES", "data": ["x"] * 9}]},
            "limit is 8",
        ),
    ],
)
def test_bad_infer_requests_are_400(
    client: TestClient, model: str, body: dict[str, Any], message: str
) -> None:
    response = client.post(f"/v2/models/{model}/infer", json=body)
    assert response.status_code in (400, 413), response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "header", "message"),
    [
        (b"{}", "99", "does not fit the body"),
        (b"{}", "x", "does not fit the body"),
        (b"not json", None, "infer request body"),
        (
            b'{"inputs": [{"name": "images", "shape": [1], "datatype": "FP32", '
            b'"parameters": {"binary_data_size": 8}}]}',
            None,
            "does not fit",
        ),
        (b'{"inputs": []}abc', "14", "3 bytes after the inputs"),
    ],
)
def test_bad_binary_framing_is_400(
    client: TestClient, content: bytes, header: str | None, message: str
) -> None:
    headers = {HEADER: header} if header is not None else {}
    response = client.post("/v2/models/colour-test/infer", content=content, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_raw_binary_needs_fixed_dimensions(client: TestClient) -> None:
    # channel-test's graph takes [batch, 3, 64, 64]: fixed; a graph with a free H or W cannot.
    response = client.post(
        "/v2/models/channel-test/infer", content=b"\0" * 12, headers={HEADER: "0"}
    )
    assert response.status_code == 400
    assert "needs 49152" in response.json()["error"]


def test_tensor_requests_are_counted_in_the_metrics(client: TestClient) -> None:
    def images_ok() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('fovea_images_total{model="colour-batched",outcome="ok"}'):
                return float(line.split()[-1])
        return 0.0

    before = images_ok()
    client.post("/v2/models/colour-batched/infer", json=_json_input())
    assert images_ok() == before + 1
    assert 'fovea_batch_size_count{model="colour-batched"}' in client.get("/metrics").text


@pytest.fixture
def keyed(model_repo: Path) -> Iterator[TestClient]:
    settings = Settings(model_repository=model_repo, workers=1, api_keys=("k1",))
    with TestClient(create_app(settings)) as keyed_client:
        yield keyed_client


def test_keys_guard_v2_but_not_its_health(keyed: TestClient) -> None:
    assert keyed.get("/v2/health/live").status_code == 200
    denied = keyed.get("/v2/models/colour-test")
    assert denied.status_code == 401
    assert "needs an API key" in denied.json()["error"]
    allowed = keyed.get("/v2/models/colour-test", headers={"Authorization": "Bearer k1"})
    assert allowed.status_code == 200
