from __future__ import annotations

from typing import Any

import pytest

from fovea.client import APIError
from fovea.ui import logic


def det(label: str, score: float, class_id: int = 0, box: list[float] | None = None) -> Any:
    return {"label": label, "class_id": class_id, "score": score, "box": box or [0, 0, 1, 1]}


DETS = [det("dog", 0.9, 1), det("person", 0.8, 2), det("dog", 0.3, 1), det("cat", 0.1, 0)]


@pytest.mark.parametrize(
    ("threshold", "classes", "scores"),
    [
        (0.05, None, [0.9, 0.8, 0.3, 0.1]),
        (0.3, None, [0.9, 0.8, 0.3]),  # the threshold itself is kept
        (0.31, [], [0.9, 0.8]),  # an empty class filter means every class
        (0.05, ["dog"], [0.9, 0.3]),
        (0.5, ["dog", "cat"], [0.9]),
        (0.95, None, []),
        (0.05, ["zebra"], []),
    ],
)
def test_filter_detections(
    threshold: float, classes: list[str] | None, scores: list[float]
) -> None:
    assert [d["score"] for d in logic.filter_detections(DETS, threshold, classes)] == scores


def test_filter_detections_of_nothing() -> None:
    assert logic.filter_detections([], 0.05) == []


def test_filtered_output_keeps_the_other_fields() -> None:
    output = {"id": "a.jpg", "width": 10, "height": 5, "detections": DETS, "timing": {}}
    kept = logic.filtered_output(output, 0.5, None)
    assert kept == {**output, "detections": DETS[:2]}
    assert output["detections"] == DETS  # the original is untouched


@pytest.mark.parametrize(
    ("dets", "counts"),
    [
        ([], {}),
        (DETS, {"dog": 2, "cat": 1, "person": 1}),  # most first, ties by label
        ([det("b", 1), det("a", 1)], {"a": 1, "b": 1}),
    ],
)
def test_counts_per_class(dets: list[Any], counts: dict[str, int]) -> None:
    assert logic.counts_per_class(dets) == counts
    assert list(logic.counts_per_class(dets)) == list(counts)


def test_labels_present() -> None:
    outputs = [{"detections": DETS[:2]}, {"detections": DETS[3:]}, {"detections": None}]
    assert logic.labels_present(outputs) == ["cat", "dog", "person"]


def test_detection_rows_round_for_reading() -> None:
    rows = logic.detection_rows([det("dog", 0.87654, 1, [1.04, 2.06, 300.55, 400.0])])
    assert rows == [
        {"label": "dog", "score": 0.877, "x1": 1.0, "y1": 2.1, "x2": 300.6, "y2": 400.0}
    ]


def test_detections_csv() -> None:
    per_image = {
        "a.jpg": [det("dog", 0.9, 1, [1, 2, 3, 4])],
        "b.jpg": [],
        "c, d.jpg": [det("cat", 0.5, 0, [5.5, 6, 7, 8])],
    }
    assert logic.detections_csv(per_image) == (
        "image,label,class_id,score,x1,y1,x2,y2\n"
        "a.jpg,dog,1,0.9,1,2,3,4\n"
        '"c, d.jpg",cat,0,0.5,5.5,6,7,8\n'
    )


def test_detections_csv_of_nothing_is_the_header() -> None:
    assert logic.detections_csv({}) == "image,label,class_id,score,x1,y1,x2,y2\n"


def test_batch_counts() -> None:
    rows = logic.batch_counts({"a.jpg": DETS[:3], "b.jpg": [], "c.jpg": [det("cat", 0.5)]})
    assert rows == [
        {"image": "a.jpg", "dog": 2, "cat": 0, "person": 1, "total": 3},
        {"image": "b.jpg", "dog": 0, "cat": 0, "person": 0, "total": 0},
        {"image": "c.jpg", "dog": 0, "cat": 1, "person": 0, "total": 1},
        {"image": "all images", "dog": 2, "cat": 1, "person": 1, "total": 4},
    ]


def test_batch_counts_of_nothing() -> None:
    assert logic.batch_counts({}) == [{"image": "all images", "total": 0}]


@pytest.mark.parametrize(
    ("timing", "total"),
    [({}, 0.0), ({"decode": 1.04, "infer": 12.0, "queue": 0.0}, 13.0), ({"infer": 0.26}, 0.3)],
)
def test_timing_total(timing: dict[str, float], total: float) -> None:
    assert logic.timing_total(timing) == total


def test_top_k_rows() -> None:
    classes = [
        {"label": "red", "class_id": 0, "score": 0.7},
        {"label": "blue", "class_id": 2, "score": 0.2},
        {"label": "green", "class_id": 1, "score": 0.1},
    ]
    assert logic.top_k_rows(classes, 2) == [
        {"label": "red", "score": 0.7},
        {"label": "blue", "score": 0.2},
    ]
    assert logic.top_k_rows(classes, 10) == logic.top_k_rows(classes, 3)
    assert logic.top_k_rows([], 5) == []


MODELS = [
    {"name": "a", "status": "ready", "task": "detect", "postprocess": {"score_threshold": 0.4}},
    {"name": "b", "status": "failed", "task": "detect", "error": "boom"},
    {"name": "c", "status": "ready", "task": "segment"},
    {"name": "d", "status": "failed", "task": None},
    {"name": "e", "status": "loading", "task": "detect"},
    {"name": "f", "status": "ready", "task": "detect", "postprocess": {"score_threshold": 0.01}},
]


@pytest.mark.parametrize(
    ("task", "names"), [("detect", ["a", "f"]), ("segment", ["c"]), ("classify", [])]
)
def test_ready_models(task: str, names: list[str]) -> None:
    assert logic.ready_models(MODELS, task) == names


@pytest.mark.parametrize(
    ("name", "threshold"),
    [("a", 0.4), ("b", 0.25), ("f", logic.REQUEST_FLOOR), ("nope", 0.25)],
)
def test_default_threshold(name: str, threshold: float) -> None:
    assert logic.default_threshold(logic.model_info(MODELS, name)) == threshold


def test_model_rows() -> None:
    ready = {
        "name": "coco",
        "status": "ready",
        "task": "detect",
        "decoder": "nanodet",
        "labels": ["person", "cat"],
        "versions": ["1", "2"],
        "default_version": "2",
        "input": {
            "size": [416, 416],
            "resize": "letterbox",
            "layout": "NCHW",
            "color": "BGR",
            "dtype": "float32",
        },
        "load_ms": 12.5,
    }
    broken = {"name": "bad", "status": "failed", "error": "no model.onnx"}
    assert logic.model_rows([ready, broken]) == [
        {
            "model": "coco",
            "status": "ready",
            "task": "detect",
            "decoder": "nanodet",
            "labels": 2,
            "input": "416x416 letterbox NCHW BGR float32",
            "versions": "1, 2",
            "serving": "2",
            "load ms": 12.5,
        },
        {
            "model": "bad",
            "status": "failed",
            "task": "",
            "decoder": "",
            "labels": 0,
            "input": "",
            "versions": "",
            "serving": "",
            "load ms": None,
        },
    ]


def test_mask_legend() -> None:
    mask = {
        "labels": ["background", "person", "sky"],
        "fractions": {"background": 0.25, "person": 0.75},
    }
    rows = logic.mask_legend(mask, [(0, 0, 0), (230, 25, 75)])
    assert rows == [
        {"label": "background", "colour": "#000000", "share": 0.25},
        {"label": "person", "colour": "#e6194b", "share": 0.75},
        {"label": "sky", "colour": "#000000", "share": 0.0},  # no palette entry, no pixels
    ]


@pytest.mark.parametrize(
    ("status", "problem", "message"),
    [
        (
            422,
            {"title": "Image could not be decoded", "detail": "not an image"},
            "Image could not be decoded (HTTP 422): not an image",
        ),
        (404, {"title": "Model not found"}, "Model not found (HTTP 404)"),
        (502, {}, "HTTP 502 (HTTP 502)"),
    ],
)
def test_problem_message(status: int, problem: dict[str, str], message: str) -> None:
    assert logic.problem_message(APIError(status, problem)) == message


def test_unreachable_message_names_the_url() -> None:
    message = logic.unreachable_message("http://10.0.0.9:8000", ConnectionError())
    assert message.startswith(
        "Cannot reach the Fovea API at http://10.0.0.9:8000 (ConnectionError)"
    )
    assert "FOVEA_API_URL" in message


def test_not_fovea_message() -> None:
    message = logic.not_fovea_message("http://a:1", KeyError("models"))
    assert (
        message == "The server at http://a:1 did not answer like a Fovea API (KeyError: 'models')."
    )


@pytest.mark.parametrize(
    ("names", "unique"),
    [
        ([], []),
        (["a.jpg", "b.jpg"], ["a.jpg", "b.jpg"]),
        (["a.jpg", "a.jpg", "a.jpg"], ["a.jpg", "a (2).jpg", "a (3).jpg"]),
        (["photo", "photo"], ["photo", "photo (2)"]),
    ],
)
def test_unique_names(names: list[str], unique: list[str]) -> None:
    assert logic.unique_names(names) == unique


def test_combined_response() -> None:
    body = {"model": "m", "version": "1", "task": "detect", "errors": {}}
    bodies = {
        "a.jpg": {**body, "outputs": [{"id": "a.jpg", "detections": DETS}]},
        "b.jpg": {**body, "outputs": [{"id": "b.jpg", "detections": []}]},
    }
    combined = logic.combined_response(bodies, {"a.jpg": DETS[:1], "b.jpg": []})
    assert combined == {
        "model": "m",
        "version": "1",
        "task": "detect",
        "outputs": [{"id": "a.jpg", "detections": DETS[:1]}, {"id": "b.jpg", "detections": []}],
        "errors": {},
    }
