"""Client.explain and explain_overlay, sync and async, against a real `fovea serve`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import anyio
import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from fovea.client import APIError, AsyncClient, Client
from fovea.core import ExplainParams, Heatmap
from tests import explain_models
from tests.helpers import encode, image_bytes
from tests.servers import fovea_server

RED_LEFT = Image.new("RGB", (120, 60), (0, 0, 255))
RED_LEFT.paste((255, 0, 0), (0, 0, 60, 60))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("explain-server")
    with fovea_server(explain_models.build(root / "models"), root) as running:
        yield running.url


def test_the_client_explains_a_file_and_a_detection(server: str, tmp_path: Path) -> None:
    photo = tmp_path / "red-blue.png"
    photo.write_bytes(encode(RED_LEFT))
    with Client(server) as client:
        answer = client.explain("cam", photo, target="red")
        heatmap = answer.result()
        assert isinstance(heatmap, Heatmap)
        assert (heatmap.label, answer.method, answer.evaluations) == ("red", "scorecam", 3)
        assert heatmap.values_hw[:, :60].mean() > heatmap.values_hw[:, 60:].mean()
        params = ExplainParams(method="occlusion", window=8)
        occluded = client.explain("cam", photo, params, stride=8, target="red")
        assert (occluded.method, occluded.evaluations) == ("occlusion", 16)
        boxed = client.explain(
            "planted", image_bytes((1000, 600)), masks=8, box=(300, 100, 600, 400)
        )
        assert (boxed.label, boxed.box) == ("dog", [300.0, 100.0, 600.0, 400.0])
        overlay = client.explain_overlay("cam", photo, "jpeg", opacity=0.8)
        with Image.open(io.BytesIO(overlay)) as image:
            assert (image.format, image.size) == ("JPEG", (120, 60))
        with pytest.raises(APIError) as caught:
            client.explain("colour", photo, method="scorecam")
        assert caught.value.status == 422
        assert "scorecam needs an activation output" in caught.value.detail
        with pytest.raises(ValidationError):  # checked here, with the server's bounds
            client.explain("cam", photo, masks=2)


def test_the_async_client_explains_too(server: str) -> None:
    async def use() -> None:
        async with AsyncClient(server) as client:
            answer = await client.explain("colour", encode(RED_LEFT), masks=16, seed=3)
            assert (answer.method, answer.evaluations, answer.label) == ("rise", 16, "red")
            again = await client.explain("colour", encode(RED_LEFT), masks=16, seed=3)
            assert again.heatmap.png == answer.heatmap.png  # the same seed, the same masks
            png = await client.explain_overlay("colour", encode(RED_LEFT), masks=16)
            with Image.open(io.BytesIO(png)) as image:
                assert image.format == "PNG"
                assert not np.array_equal(np.asarray(image.convert("RGB")), np.asarray(RED_LEFT))

    anyio.run(use)
