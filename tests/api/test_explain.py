"""Explain through the HTTP layer: every answer form, every input form, parameters from the query
string and JSON, the original API's base64 style, and problems for bad input."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.wire import ExplainResponse, heatmap_of
from tests import explain_models
from tests.helpers import image_bytes

RED_LEFT = np.zeros((60, 120, 3), np.uint8)
RED_LEFT[:, :60, 0] = 255
RED_LEFT[:, 60:, 2] = 255


def _png(pixels: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


PHOTO = _png(RED_LEFT)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    models = explain_models.build(tmp_path_factory.mktemp("explain-api") / "models")
    settings = Settings(model_repository=models, workers=2, explain_max_evaluations=500)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _explain(api: TestClient, model: str = "cam", data: bytes = PHOTO, **query: Any) -> Any:
    files = {"file": ("red-blue.png", data, "image/png")}
    return api.post(f"/v1/models/{model}/explain", files=files, params=query)


def test_json_names_the_class_and_carries_the_heatmap(api: TestClient) -> None:
    response = _explain(api, format="json", target="red")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = ExplainResponse.model_validate_json(response.content)
    assert (body.model, body.version, body.task, body.method) == (
        "cam",
        "1",
        "classify",
        "scorecam",
    )
    assert (body.label, body.class_id, body.evaluations) == ("red", 0, 3)
    assert body.score == pytest.approx(0.5, abs=0.01)
    assert (body.width, body.height, body.box) == (120, 60, None)
    assert set(body.timing) == {"base", "sweep", "total"}
    heatmap = body.result()
    assert heatmap.values_hw.shape == (60, 120)
    assert heatmap.values_hw[:, :60].mean() > heatmap.values_hw[:, 60:].mean()
    grid = np.array(body.heatmap.grid)
    assert grid.shape == (16, 32)  # at most 32 cells on the longer side
    assert grid[:, :16].mean() > grid[:, 16:].mean()
    assert 0.0 <= grid.min() <= grid.max() <= 1.0
    assert heatmap_of(body.heatmap).values_hw.max() == pytest.approx(grid.max(), abs=0.05)


@pytest.mark.parametrize(
    ("query", "headers", "media_type"),
    [
        ({}, {}, "image/png"),
        ({"format": "jpeg"}, {}, "image/jpeg"),
        ({}, {"accept": "image/jpeg"}, "image/jpeg"),
        ({}, {"accept": "application/json"}, "application/json"),
        ({"format": "png"}, {"accept": "application/json"}, "image/png"),
    ],
)
def test_the_answer_is_an_overlay_or_json(
    api: TestClient, query: dict[str, str], headers: dict[str, str], media_type: str
) -> None:
    files = {"file": ("x.png", PHOTO, "image/png")}
    response = api.post("/v1/models/cam/explain", files=files, params=query, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    if media_type != "application/json":
        with Image.open(io.BytesIO(response.content)) as overlay:
            assert overlay.size == (120, 60)


def test_opacity_and_colormap_shape_the_overlay(api: TestClient) -> None:
    clear = _explain(api, opacity=0.0, target="red")
    with Image.open(io.BytesIO(clear.content)) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), RED_LEFT)
    solid = _explain(api, opacity=1.0, colormap="viridis", target="red")
    with Image.open(io.BytesIO(solid.content)) as image:
        corner = np.asarray(image.convert("RGB"))[30, 100].tolist()
    assert corner == [68, 1, 84]  # viridis at 0: the blue half does not make red


def test_a_detector_answer_names_and_draws_its_box(api: TestClient) -> None:
    body = _explain(api, "planted", image_bytes((1000, 600)), format="json", masks=8).json()
    assert (body["method"], body["label"], body["evaluations"]) == ("drise", "dog", 8)
    assert body["box"] == [312.5, 112.5, 625.0, 425.0]
    person = _explain(api, "planted", image_bytes((1000, 600)), format="json", masks=8, box_index=1)
    assert person.json()["label"] == "person"
    drawn = _explain(api, "planted", image_bytes((1000, 600)), masks=8, box="300,100,600,400")
    with Image.open(io.BytesIO(drawn.content)) as image:
        assert image.size == (1000, 600)
        row = np.asarray(image.convert("RGB"))[250, 295:305].tolist()
    assert [60, 180, 75] in row  # the given box's left edge (x 300), in the dog's colour


def test_json_bodies_with_params_and_urls_refused_as_predict_does(api: TestClient) -> None:
    image = base64.b64encode(PHOTO).decode()
    body = {"inputs": [{"image": image}], "params": {"method": "occlusion", "window": 8}}
    response = api.post("/v1/models/cam/explain?format=json&stride=4", json=body)
    assert response.status_code == 200
    assert (response.json()["method"], response.json()["evaluations"]) == ("occlusion", 49)
    clash = api.post("/v1/models/cam/explain?format=json&method=rise", json=body)
    assert clash.status_code == 422
    assert "method given twice" in clash.json()["detail"]
    private = {"inputs": [{"url": "http://127.0.0.1:9/x.png"}]}
    assert (
        api.post("/v1/models/cam/explain", json=private).json()["type"] == "/problems/url-refused"
    )


def test_the_original_api_style_takes_img_and_answers_base64(api: TestClient) -> None:
    image = base64.b64encode(PHOTO).decode()
    response = api.post("/v1/models/cam/explain/base64?target=red", json={"img": image})
    assert response.status_code == 200
    body = response.json()
    assert (body["label"], body["class_id"], body["method"]) == ("red", 0, "scorecam")
    assert body["score"] == pytest.approx(0.5, abs=0.01)
    with Image.open(io.BytesIO(base64.b64decode(body["heatmap"]))) as overlay:
        assert (overlay.format, overlay.size) == ("PNG", (120, 60))
    jpeg = api.post("/v1/models/cam/explain/base64?format=jpeg", json={"img": image}).json()
    with Image.open(io.BytesIO(base64.b64decode(jpeg["heatmap"]))) as overlay:
        assert overlay.format == "JPEG"
    wrong = api.post("/v1/models/cam/explain/base64", json={"image": image})
    assert wrong.status_code == 422


def test_models_list_their_explanation_methods(api: TestClient) -> None:
    listed = {m["name"]: m["explain_methods"] for m in api.get("/v1/models").json()["models"]}
    assert listed == {
        "cam": ["scorecam", "rise", "occlusion"],
        "cam-batched": ["scorecam", "rise", "occlusion"],
        "cam-small-queue": ["scorecam", "rise", "occlusion"],
        "colour": ["rise", "occlusion"],
        "planted": ["drise"],
        "segmenter": [],
        "two-stage": [],
    }


@pytest.mark.parametrize(
    ("request_kwargs", "status", "kind"),
    [
        ({"params": {"method": "scorecam"}, "model": "colour"}, 422, "invalid-parameter"),
        ({"params": {"masks": 2}}, 422, "invalid-parameter"),
        ({"params": {"method": "gradcam"}}, 422, "invalid-parameter"),
        ({"params": {"method": "rise", "masks": 600}}, 422, "invalid-parameter"),
        ({"params": {"box": "1,2,3"}, "model": "planted"}, 422, "invalid-parameter"),
        ({"params": {"target": "purple"}}, 422, "invalid-parameter"),
        ({"model": "segmenter"}, 422, "invalid-parameter"),
        ({"model": "nope"}, 404, "model-not-found"),
        ({"data": b"not an image"}, 422, "image-decode"),
        ({"files": 2}, 413, "too-many-images"),
        ({"json": {"inputs": [{"image": "aGk="}, {"image": "aGk="}]}}, 400, "invalid-request"),
        ({"json": {}}, 422, "invalid-parameter"),
        ({"content": b"{", "type": "application/json"}, 400, "invalid-request"),
        ({"content": b"<x/>", "type": "text/xml"}, 415, "unsupported-media-type"),
    ],
)
def test_bad_input_is_a_problem(
    api: TestClient, request_kwargs: dict[str, Any], status: int, kind: str
) -> None:
    url = f"/v1/models/{request_kwargs.get('model', 'cam')}/explain"
    params = request_kwargs.get("params", {})
    if "json" in request_kwargs:
        response = api.post(url, json=request_kwargs["json"], params=params)
    elif "content" in request_kwargs:
        headers = {"content-type": request_kwargs["type"]}
        response = api.post(url, content=request_kwargs["content"], headers=headers)
    else:
        data = request_kwargs.get("data", PHOTO)
        files = [
            ("file", (f"{i}.png", data, "image/png")) for i in range(request_kwargs.get("files", 1))
        ]
        response = api.post(url, files=files, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{kind}"


def test_the_routes_are_documented(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    explain = schema["paths"]["/v1/models/{model}/explain"]["post"]
    names = {p["name"] for p in explain["parameters"]}
    assert {"method", "target", "masks", "channels", "window", "stride", "format"} <= names
    assert "ExplainRequest" in str(explain["requestBody"])
    assert "/v1/models/{model}/explain/base64" in schema["paths"]
    assert "ExplainResponse" in schema["components"]["schemas"]
