"""Predict through the HTTP layer: planted boxes mapped back, every input form, parameters."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import image_bytes

# Box 0 (dog 0.9) and box 2 (person 0.8) of tests.helpers.PLANTED_CXCYWH, in original pixels.
EXPECTED = {
    (1000, 600): {"dog": [312.5, 112.5, 625.0, 425.0], "person": [703.125, 534.375, 859.375, 600]},
    (600, 1000): {"dog": [112.5, 312.5, 425.0, 625.0], "person": [503.125, 734.375, 600, 828.125]},
}


def _upload(client: TestClient, model: str, *images: bytes, **query: Any) -> Any:
    files = [("files", (f"img{i}.jpg", data, "image/jpeg")) for i, data in enumerate(images)]
    return client.post(f"/v1/models/{model}/predict", files=files, params=query)


@pytest.mark.parametrize("model", ["yolov8-test", "yolov5-test"])
@pytest.mark.parametrize("size_wh", [(1000, 600), (600, 1000)])
def test_planted_boxes_come_back_in_original_pixels(
    client: TestClient, model: str, size_wh: tuple[int, int]
) -> None:
    response = _upload(client, model, image_bytes(size_wh))
    assert response.status_code == 200
    body = response.json()
    served_version = {"yolov8-test": "2", "yolov5-test": "1"}[model]  # the highest, unpinned
    assert (body["model"], body["version"], body["task"]) == (model, served_version, "detect")
    [output] = body["outputs"]
    assert (output["width"], output["height"]) == size_wh
    found = {d["label"]: d for d in output["detections"]}
    assert sorted(found) == ["dog", "person"]  # the 0.85 duplicate is suppressed, 0.1 cat dropped
    for label, box in EXPECTED[size_wh].items():
        np.testing.assert_allclose(found[label]["box"], box, atol=1.0)
    dog = found["dog"]
    assert dog["score"] == pytest.approx(0.9)
    assert dog["class_id"] == 1
    w, h = size_wh
    x1, y1, x2, y2 = dog["box"]
    np.testing.assert_allclose(
        dog["bbox_norm"], [x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h], atol=1e-4
    )
    assert set(output["timing"]) == {"decode", "preprocess", "queue", "infer", "postprocess"}


def test_json_base64_data_uri_and_ids(client: TestClient) -> None:
    data = image_bytes((1000, 600))
    raw = base64.b64encode(data).decode()
    body = {
        "inputs": [
            {"id": "plain", "image": raw},
            {"id": "uri", "image": f"data:image/jpeg;base64,{raw}"},
            {"image": base64.urlsafe_b64encode(data).decode()},
        ]
    }
    response = client.post("/v1/models/yolov8-test/predict", json=body)
    assert response.status_code == 200
    outputs = response.json()["outputs"]
    assert [o["id"] for o in outputs] == ["plain", "uri", "2"]
    assert all(len(o["detections"]) == 2 for o in outputs)


def test_one_bad_image_does_not_fail_the_others(client: TestClient) -> None:
    response = _upload(
        client, "yolov8-test", image_bytes((1000, 600)), b"not an image", image_bytes((600, 1000))
    )
    assert response.status_code == 200
    body = response.json()
    assert [o["id"] for o in body["outputs"]] == ["img0.jpg", "img2.jpg"]
    assert body["errors"]["img1.jpg"]["type"] == "/problems/image-decode"
    assert body["errors"]["img1.jpg"]["status"] == 422


def test_every_image_failing_answers_the_problem_with_all_errors(client: TestClient) -> None:
    response = _upload(client, "yolov8-test", b"x", b"")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()["errors"]) == {"img0.jpg", "img1.jpg"}


def test_duplicate_file_names_get_distinct_ids(client: TestClient) -> None:
    data = image_bytes((64, 64))
    files = [
        ("files", ("same.jpg", data, "image/jpeg")),
        ("file", ("same.jpg", data, "image/jpeg")),
    ]
    response = client.post("/v1/models/yolov8-test/predict", files=files)
    assert [o["id"] for o in response.json()["outputs"]] == ["same.jpg", "same.jpg#1"]


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ({"score_threshold": 0.85}, ["dog"]),
        ({"score_threshold": 0.05}, ["dog", "person", "cat"]),
        ({"score_threshold": 0.05, "iou_threshold": 0.99}, ["dog", "dog", "person", "cat"]),
        ({"classes": "person,cat", "score_threshold": 0.05}, ["person", "cat"]),
        ({"max_detections": 1}, ["dog"]),
    ],
)
def test_query_parameters(client: TestClient, query: dict[str, Any], labels: list[str]) -> None:
    response = _upload(client, "yolov8-test", image_bytes((1000, 600)), **query)
    assert [d["label"] for d in response.json()["outputs"][0]["detections"]] == labels


def test_json_params_and_version(client: TestClient) -> None:
    raw = base64.b64encode(image_bytes((1000, 600))).decode()
    body = {"inputs": [{"image": raw}], "params": {"classes": ["person"]}}
    response = client.post("/v1/models/yolov8-test/predict", json=body)
    assert [d["label"] for d in response.json()["outputs"][0]["detections"]] == ["person"]
    old = client.post("/v1/models/yolov8-test/predict", json=body, params={"version": "1"})
    assert old.json()["version"] == "1"
    assert old.json()["outputs"][0]["detections"] == []  # version 1 plants nothing


def test_class_map_reports_megadetector_style_labels(client: TestClient) -> None:
    response = _upload(client, "camtrap-test", image_bytes((1000, 600)))
    detections = response.json()["outputs"][0]["detections"]
    assert [(d["label"], d["class_id"]) for d in detections] == [("animal", 0), ("human", 1)]


@pytest.mark.parametrize(
    ("colour", "label"), [((250, 10, 10), "red"), ((10, 250, 10), "green"), ((10, 10, 250), "blue")]
)
def test_classifier_top_k(client: TestClient, colour: tuple[int, int, int], label: str) -> None:
    response = _upload(client, "colour-test", image_bytes((300, 200), colour), top_k=2)
    classes = response.json()["outputs"][0]["classes"]
    assert len(classes) == 2
    assert classes[0]["label"] == label
    assert classes[0]["score"] > 0.99


def _mask(output: dict[str, Any]) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(output["mask"]["png"]))))


def test_segmenter_mask_maps_back_through_letterbox(client: TestClient) -> None:
    image = Image.new("RGB", (1000, 600), (10, 200, 10))
    image.paste((220, 10, 10), (500, 0, 1000, 300))  # the top-right quarter is red
    data = io.BytesIO()
    image.save(data, format="PNG")
    response = _upload(client, "red-test", data.getvalue())
    output = response.json()["outputs"][0]
    mask = _mask(output)
    assert mask.shape == (600, 1000)
    expected = np.zeros((600, 1000), np.uint8)
    expected[:300, 500:] = 1
    assert (mask != expected).mean() < 0.01  # only the 64x64 model's edge pixels may differ
    assert output["mask"]["labels"] == ["background", "red"]
    assert output["mask"]["fractions"]["red"] == pytest.approx(0.25, abs=0.01)


def test_argmax_segmenter(client: TestClient) -> None:
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    image.paste((0, 255, 0), (0, 0, 100, 100))
    data = io.BytesIO()
    image.save(data, format="PNG")
    mask = _mask(_upload(client, "channel-test", data.getvalue()).json()["outputs"][0])
    assert (mask[:, :98] == 1).all()
    assert (mask[:, 102:] == 2).all()


def test_a_pipeline_answers_each_box_with_its_classes(client: TestClient) -> None:
    image = Image.new("RGB", (1000, 600), (128, 128, 128))
    image.paste((20, 20, 230), (313, 113, 625, 425))  # the planted dog box, blue
    data = io.BytesIO()
    image.save(data, format="PNG")
    body = _upload(client, "pipeline-test", data.getvalue()).json()
    dog, person = body["outputs"][0]["detections"]
    assert (dog["label"], person["label"]) == ("dog", "person")
    assert [c["label"] for c in dog["classes"]] == ["cool", "warm"]
    assert dog["classes"][0]["score"] > 0.9
    assert "classes" not in person  # only dog boxes are classified
    render = client.post(
        "/v1/models/pipeline-test/render", files={"file": ("a.png", data.getvalue())}
    )
    assert render.status_code == 200
    metrics = client.get("/metrics").text  # each stage ran through its own model
    for model in ("pipeline-test", "yolov8-test", "colour-test"):
        assert f'fovea_images_total{{model="{model}",outcome="ok"}}' in metrics
