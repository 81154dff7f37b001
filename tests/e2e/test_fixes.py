"""What a user saw broken, checked over a real socket: parameters in every form, one bad base64
item in a batch, the README's base64 example with a 10 MB photo, and `fovea models list`."""

from __future__ import annotations

import base64
import io
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fovea.cli import app
from tests.helpers import image_bytes
from tests.servers import fovea_server

README = (Path(__file__).parents[2] / "README.md").read_text()
PREDICT = "/v1/models/yolov8-test/predict"


@pytest.fixture(scope="module")
def server(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fovea_server(model_repo, tmp_path_factory.mktemp("server")) as running:
        yield running.url
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=15) == 0


def _labels(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return [[d["label"] for d in o["detections"]] for o in response.json()["outputs"]]


def _json_body(params: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = base64.b64encode(image_bytes((1000, 600))).decode()
    return {"inputs": [{"id": "a", "image": raw}], **({"params": params} if params else {})}


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ({"classes": "person"}, None),  # query string with JSON
        ({}, {"classes": ["person"]}),  # JSON params
        ({"classes": "person"}, {"classes": ["person"]}),  # both, agreeing
        ({"classes": "person"}, {"score_threshold": 0.5}),  # both, different parameters
    ],
)
def test_parameters_mean_the_same_in_every_json_form(
    server: str, query: dict[str, str], params: dict[str, Any] | None
) -> None:
    response = httpx.post(server + PREDICT, json=_json_body(params), params=query, timeout=30)
    assert _labels(response) == [["person"]]


def test_parameters_in_the_query_string_with_an_upload(server: str) -> None:
    files = {"files": ("a.jpg", image_bytes((1000, 600)))}
    response = httpx.post(
        server + PREDICT, files=files, params={"score_threshold": 0.85}, timeout=30
    )
    assert _labels(response) == [["dog"]]


def test_a_parameter_given_twice_with_different_values_is_refused(server: str) -> None:
    body = _json_body({"score_threshold": 0.9})
    response = httpx.post(server + PREDICT, json=body, params={"score_threshold": 0.1}, timeout=30)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/invalid-parameter"
    assert "score_threshold given twice" in problem["detail"]
    bad = httpx.post(server + PREDICT, json=_json_body(), params={"top_k": 0}, timeout=30)
    assert (bad.status_code, bad.json()["type"]) == (422, "/problems/invalid-parameter")


def test_one_bad_base64_item_lands_in_errors_and_the_others_are_answered(server: str) -> None:
    body = _json_body()
    body["inputs"].append({"id": "broken", "image": "this is not base64!"})
    response = httpx.post(server + PREDICT, json=body, timeout=30)
    assert response.status_code == 200
    answer = response.json()
    assert [o["id"] for o in answer["outputs"]] == ["a"]
    assert answer["errors"]["broken"]["type"] == "/problems/invalid-base64"
    assert answer["errors"]["broken"]["status"] == 400


def _readme_block(containing: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    return str(next(block for block in blocks if containing in block))


def test_the_readme_base64_example_works_for_a_10_mb_photo(server: str, tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (1800, 2000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=96, subsampling=0)
    assert 9_000_000 < len(buffer.getvalue()) < 15_000_000
    (tmp_path / "photo.jpg").write_bytes(buffer.getvalue())
    command = (
        _readme_block("base64 -w0 photo.jpg")
        .replace("localhost:8000", server)
        .replace("/coco/", "/yolov8-test/")
    )
    done = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert [(o["id"], o["width"], o["height"]) for o in answer["outputs"]] == [("a", 2000, 1800)]


def test_models_list_prints_the_true_status_of_a_server(server: str) -> None:
    result = CliRunner().invoke(app, ["models", "list", "--server", server])
    assert result.exit_code == 0, result.output
    status = {line.split()[0]: line.split()[1] for line in result.output.splitlines()}
    assert status["yolov8-test"] == "ready"
    assert status["broken-onnx"] == "failed"
