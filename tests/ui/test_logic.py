from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fovea.client import APIError
from fovea.core import Classes, Detections, Heatmap, Mask
from fovea.ui import logic
from fovea.wire import (
    ExplainResponse,
    InputInfo,
    ModelInfo,
    Output,
    PredictResponse,
    Timing,
    heatmap_out,
    output_of,
)

LABELS = ("cat", "dog", "person")
Row = tuple[str, float] | tuple[str, float, list[float]]


def dets(*rows: Row) -> Detections:
    """Detections of (label, score[, xyxy]) rows, class ids from LABELS."""
    boxes = [row[2] if len(row) == 3 else [0.0, 0.0, 1.0, 1.0] for row in rows]
    ids = [LABELS.index(row[0]) for row in rows]
    return Detections.build(boxes or np.zeros((0, 4)), [r[1] for r in rows], ids, LABELS)


DETS = dets(("dog", 0.9), ("person", 0.8), ("dog", 0.3), ("cat", 0.1))


@pytest.mark.parametrize(
    ("threshold", "classes", "scores"),
    [
        (0.05, (), [0.9, 0.8, 0.3, 0.1]),
        (0.3, (), [0.9, 0.8, 0.3]),  # the threshold itself is kept
        (0.9, (), [0.9]),  # also where float32 falls short of the decimal (0.9 -> 0.89999998)
        (0.31, [], [0.9, 0.8]),  # an empty class filter means every class
        (0.05, ["dog"], [0.9, 0.3]),
        (0.5, ["dog", "cat"], [0.9]),
        (0.95, (), []),
        (0.05, ["zebra"], []),
    ],
)
def test_filter_detections(threshold: float, classes: list[str], scores: list[float]) -> None:
    kept = logic.filter_detections(DETS, threshold, classes)
    assert kept.score.tolist() == pytest.approx(scores)
    assert kept.labels == LABELS


def test_filter_detections_keeps_keypoints_and_tracks_in_step() -> None:
    tracked = DETS.replace(
        keypoints=np.arange(16, dtype=np.float32).reshape(4, 2, 2),
        tracker_id=np.array([7, 8, 9, 10], np.int64),
    )
    kept = logic.filter_detections(tracked, 0.5, ["person"])
    assert kept.tracker_id is not None
    assert kept.keypoints is not None
    assert (kept.class_name, kept.tracker_id.tolist()) == (["person"], [8])
    assert kept.keypoints.tolist() == [[[4.0, 5.0], [6.0, 7.0]]]


def test_filter_detections_of_nothing() -> None:
    assert len(logic.filter_detections(Detections.empty(LABELS), 0.05, ["dog"])) == 0


@pytest.mark.parametrize(
    ("found", "counts"),
    [
        (dets(), {}),
        (DETS, {"dog": 2, "cat": 1, "person": 1}),  # most first, ties by label
        (dets(("person", 1.0), ("cat", 1.0)), {"cat": 1, "person": 1}),
    ],
)
def test_counts_per_class(found: Detections, counts: dict[str, int]) -> None:
    assert logic.counts_per_class(found) == counts
    assert list(logic.counts_per_class(found)) == list(counts)


def test_labels_present() -> None:
    assert logic.labels_present([DETS[:2], DETS[3:], dets()]) == ["cat", "dog", "person"]


def test_detection_rows_round_for_reading() -> None:
    rows = logic.detection_rows(dets(("dog", 0.87654, [1.04, 2.06, 300.55, 400.0])))
    assert rows == [
        {"label": "dog", "score": 0.877, "x1": 1.0, "y1": 2.1, "x2": 300.6, "y2": 400.0}
    ]


def test_detection_rows_of_a_pipeline_name_the_second_stage_class() -> None:
    names = np.array([["beagle", "basset"], ["tabby", ""], ["", ""]])  # tabby: filtered out
    found = dets(("dog", 0.9), ("person", 0.2), ("cat", 0.5)).replace(data={"class_names": names})
    kept = logic.filter_detections(found, 0.4)
    assert [(r["label"], r["class"]) for r in logic.detection_rows(kept)] == [
        ("dog", "beagle"),
        ("cat", ""),
    ]
    assert list(logic.detection_rows(kept)[0])[:3] == ["label", "class", "score"]


def test_detection_rows_of_nothing() -> None:
    assert logic.detection_rows(dets()) == []


def test_detections_csv_rounds_as_the_api_does() -> None:
    per_image = {
        "a.jpg": dets(("dog", 0.9, [1, 2, 3, 4])),
        "b.jpg": dets(),
        "c, d.jpg": dets(("cat", 0.123456, [5.5, 6.006, 7, 8])),
    }
    assert logic.detections_csv(per_image) == (
        "image,label,class_id,score,x1,y1,x2,y2\n"
        "a.jpg,dog,1,0.9,1.0,2.0,3.0,4.0\n"
        '"c, d.jpg",cat,0,0.12346,5.5,6.01,7.0,8.0\n'
    )


def test_detections_csv_of_nothing_is_the_header() -> None:
    assert logic.detections_csv({}) == "image,label,class_id,score,x1,y1,x2,y2\n"


def test_batch_counts() -> None:
    rows = logic.batch_counts({"a.jpg": DETS[:3], "b.jpg": dets(), "c.jpg": dets(("cat", 0.5))})
    assert rows == [
        {"image": "a.jpg", "dog": 2, "cat": 0, "person": 1, "total": 3},
        {"image": "b.jpg", "dog": 0, "cat": 0, "person": 0, "total": 0},
        {"image": "c.jpg", "dog": 0, "cat": 1, "person": 0, "total": 1},
        {"image": "all images", "dog": 2, "cat": 1, "person": 1, "total": 4},
    ]
    assert list(rows[-1]) == ["image", "dog", "cat", "person", "total"]


def test_batch_counts_of_nothing() -> None:
    assert logic.batch_counts({}) == [{"image": "all images", "total": 0}]


@pytest.mark.parametrize(
    ("timing", "total"),
    [(Timing(), 0.0), (Timing(decode=1.04, infer=12.0), 13.0), (Timing(infer=0.26), 0.3)],
)
def test_timing_total(timing: Timing, total: float) -> None:
    assert logic.timing_total(timing) == total


def test_top_k_rows() -> None:
    classes = Classes(
        np.array([0, 2, 1], np.int64), np.array([0.7, 0.2, 0.1], np.float32), ("red", "green")
    )
    assert logic.top_k_rows(classes, 2) == [
        {"label": "red", "score": 0.7},  # rounded as the API rounds, not float32's 0.699999...
        {"label": "2", "score": 0.2},  # an id outside the labels reads as its number
    ]
    assert logic.top_k_rows(classes, 10) == logic.top_k_rows(classes, 3)
    empty = Classes(np.zeros(0, np.int64), np.zeros(0, np.float32))
    assert logic.top_k_rows(empty, 5) == []


def model(name: str, status: str, task: str | None, **extra: Any) -> ModelInfo:
    return ModelInfo.model_validate({"name": name, "status": status, "task": task, **extra})


MODELS = [
    model("a", "ready", "detect", postprocess={"score_threshold": 0.4}),
    model("b", "failed", "detect", error="boom"),
    model("c", "ready", "segment"),
    model("d", "failed", None),
    model("e", "loading", "detect"),
    model("f", "ready", "detect", postprocess={"score_threshold": 0.01}),
]


@pytest.mark.parametrize(
    ("task", "names"), [("detect", ["a", "f"]), ("segment", ["c"]), ("classify", [])]
)
def test_ready_models(task: str, names: list[str]) -> None:
    assert logic.ready_models(MODELS, task) == names


@pytest.mark.parametrize(
    ("name", "threshold"), [("a", 0.4), ("b", 0.25), ("f", logic.REQUEST_FLOOR)]
)
def test_default_threshold(name: str, threshold: float) -> None:
    assert logic.default_threshold(logic.model_info(MODELS, name)) == threshold


def test_model_rows() -> None:
    ready = model(
        "coco",
        "ready",
        "detect",
        decoder="nanodet",
        labels=["person", "cat"],
        versions=["1", "2"],
        default_version="2",
        input=InputInfo(
            size=[416, 416], resize="letterbox", layout="NCHW", color="BGR", dtype="float32"
        ),
        load_ms=12.5,
    )
    broken = model("bad", "failed", None, error="no model.onnx")
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


def test_mask_legend_gives_the_annotator_colours() -> None:
    mask = Mask(np.array([[0, 1, 1, 1]], np.uint8), ("background", "person", "sky"))
    assert logic.mask_legend(mask) == [
        {"label": "background", "colour": "#000000", "share": 0.25},
        {"label": "person", "colour": "#e6194b", "share": 0.75},
        {"label": "sky", "colour": "#3cb44b", "share": 0.0},  # no pixels, still listed
    ]


def test_mask_legend_names_classes_beyond_the_labels() -> None:
    mask = Mask(np.array([[0, 1]], np.uint8), ("background",))
    assert [r["label"] for r in logic.mask_legend(mask)] == ["background", "1"]


def test_mask_png_is_the_api_palette_png() -> None:
    mask = Mask(np.array([[0, 1]], np.uint8), ("background", "red"))
    output = output_of("m.png", mask, (2, 1), {})
    png = logic.mask_png(output)
    assert png.startswith(b"\x89PNG")
    again = Output.model_validate({**output.model_dump(), "mask": None})
    assert logic.mask_png(again) == b""


def response(name: str, found: Detections, size_wh: tuple[int, int] = (10, 5)) -> PredictResponse:
    output = output_of(name, found, size_wh, {"infer": 1.5})
    return PredictResponse(model="m", version="1", task="detect", outputs=[output])


def test_combined_response_holds_what_is_shown() -> None:
    responses = {"a.jpg": response("a.jpg", DETS), "b.jpg": response("b.jpg", dets(), (4, 4))}
    combined = logic.combined_response(responses, {"a.jpg": DETS[:1], "b.jpg": dets()})
    assert (combined.model, combined.version, combined.task) == ("m", "1", "detect")
    assert [o.id for o in combined.outputs] == ["a.jpg", "b.jpg"]
    assert [o.width for o in combined.outputs] == [10, 4]
    assert combined.outputs[0].timing.infer == 1.5
    sent = responses["a.jpg"].outputs[0].detections
    assert sent is not None
    assert len(sent) == 4  # the answer itself is untouched
    assert combined.outputs[0].detections == sent[:1]  # what is shown, exactly as the API wrote
    assert combined.outputs[1].detections == []


def test_response_json_leaves_out_what_the_api_leaves_out() -> None:
    body = logic.response_json(response("a.jpg", DETS[:1]))
    [output] = body["outputs"]
    assert set(output) == {"id", "width", "height", "detections", "timing"}
    assert output["detections"][0] == {
        "label": "dog",
        "class_id": 1,
        "score": 0.9,
        "box": [0.0, 0.0, 1.0, 1.0],
        "bbox_norm": [0.0, 0.0, 0.1, 0.2],
    }


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


@pytest.mark.parametrize(
    ("method", "name"),
    [("scorecam", "Score-CAM"), ("rise", "RISE"), ("occlusion", "Occlusion"), ("x", "x")],
)
def test_method_name(method: str, name: str) -> None:
    assert logic.method_name(method) == name


def test_explanation_caption_says_what_was_explained_and_its_cost() -> None:
    heatmap = Heatmap(np.zeros((2, 3), np.float32))
    answer = ExplainResponse(
        model="imagenet",
        version="1",
        task="classify",
        method="rise",
        label="Egyptian cat",
        class_id=285,
        score=0.74131,
        evaluations=64,
        width=3,
        height=2,
        heatmap=heatmap_out(heatmap),
        timing={"base": 30.0, "sweep": 1220.0, "total": 1250.0},
    )
    assert logic.explanation_caption(answer) == (
        "RISE: where the model looked for Egyptian cat (0.74); 64 model runs in 1.2 s"
    )
