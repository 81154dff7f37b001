"""The real HTTP stack: `fovea serve` in a subprocess, driven over a socket with the client."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fovea.client import APIError, Client
from fovea.core import Classes, Detections, Mask
from tests.helpers import image_bytes
from tests.servers import fovea_server


@pytest.fixture(scope="module")
def server(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fovea_server(model_repo, tmp_path_factory.mktemp("server")) as running:
        yield running.url
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=15) == 0  # drained and stopped cleanly


@pytest.mark.parametrize("model", ["yolov8-test", "yolov5-test"])
def test_planted_boxes_over_a_real_socket(server: str, model: str) -> None:
    expected = {
        (1000, 600): [312.5, 112.5, 625.0, 425.0],
        (600, 1000): [112.5, 312.5, 425.0, 625.0],
    }
    with Client(server) as client:
        body = client.predict(model, [image_bytes(size) for size in expected])
    for output, (size, dog_box) in zip(body.outputs, expected.items(), strict=True):
        assert (output.width, output.height) == size
        dets = output.result()  # typed: Detections with class names
        assert isinstance(dets, Detections)
        assert dets.class_name == ["dog", "person"]
        np.testing.assert_allclose(dets.xyxy[0], dog_box, atol=1.0)


def test_classifier_segmenter_and_render_over_a_real_socket(server: str) -> None:
    red = image_bytes((300, 200), (250, 10, 10))
    with Client(server) as client:
        top = client.predict("colour-test", [red]).outputs[0].result()
        mask = client.predict("red-test", [red]).outputs[0]
        png = client.render("yolov8-test", image_bytes((1000, 600)))
    assert isinstance(top, Classes)
    assert top.class_name[0] == "red"
    assert mask.mask is not None
    assert mask.mask.fractions["red"] == 1.0
    decoded = mask.result()
    assert isinstance(decoded, Mask)
    assert decoded.shape_hw == (200, 300)
    assert (decoded.class_map_hw == 1).all()
    assert Image.open(io.BytesIO(png)).size == (1000, 600)


def test_client_raises_problems(server: str) -> None:
    with Client(server) as client, pytest.raises(APIError) as caught:
        client.predict("nope", [image_bytes((10, 10))])
    assert caught.value.status == 404
    assert caught.value.type == "/problems/model-not-found"


def test_requests_run_in_parallel_without_errors(server: str) -> None:
    import concurrent.futures

    data = image_bytes((1000, 600))

    def one(_: int) -> int:
        files = {"files": ("a.jpg", data)}
        return httpx.post(
            f"{server}/v1/models/yolov8-test/predict", files=files, timeout=30
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(32))) == {200}


def test_cli_predict_against_the_server(server: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fovea.cli import app

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes((600, 1000)))
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        app, ["predict", str(photo), "-m", "yolov5-test", "--server", server, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    [output] = json.loads(out.read_text())["outputs"]
    assert output["id"] == "photo.jpg"
    assert [d["label"] for d in output["detections"]] == ["dog", "person"]


def test_async_client_has_everything_the_client_has(server: str) -> None:
    import inspect

    import anyio

    from fovea.client import AsyncClient

    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    assert public(Client) - {"close"} == public(AsyncClient) - {"aclose"}

    async def use() -> None:
        async with AsyncClient(server) as client:
            health = await client.health()
            assert health.models["yolov8-test"] == "ready"
            assert not health.ready  # the test repository has broken models
            assert (await client.model("yolov8-test")).versions == ["1", "2"]
            assert "broken-toml" in {m.name for m in await client.models()}
            assert "fovea_http_requests_total" in await client.metrics()
            body = await client.predict("yolov8-test", [image_bytes((1000, 600))], classes=["dog"])
            assert [d.label for d in body.outputs[0].detections or []] == ["dog"]
            png = await client.render("yolov8-test", image_bytes((1000, 600)), "jpeg")
            assert Image.open(io.BytesIO(png)).format == "JPEG"
            with pytest.raises(APIError) as caught:
                await client.model("nope")
            assert caught.value.type == "/problems/model-not-found"

    anyio.run(use)
