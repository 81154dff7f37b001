"""Each page run by Streamlit's AppTest against a real API over the synthetic repository."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Element

from fovea.client import Client
from fovea.ui import launch
from tests.helpers import image_bytes
from tests.ui.servers import api_server, closed_port_url, not_fovea_server

RED = image_bytes((300, 200), (250, 10, 10))
PHOTO = image_bytes((1000, 600))  # planted: dog 0.9, person 0.8, cat 0.1 (see tests/helpers.py)


@pytest.fixture
def predict_posts(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every predict request the UI sends."""
    sent: list[httpx.Request] = []
    send = httpx.Client.send

    def spy(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.url.path.endswith("/predict"):
            sent.append(request)
        return send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    return sent


@pytest.fixture
def open_page(synthetic_api: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], AppTest]:
    monkeypatch.setenv("FOVEA_API_URL", synthetic_api)
    monkeypatch.delenv("FOVEA_API_KEY", raising=False)

    def run(page: str) -> AppTest:
        app = AppTest.from_file(str(launch.APP), default_timeout=30).run()
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception
        return app

    return run


def images(app: AppTest) -> list[Any]:
    """st.image elements (AppTest names them "imgs" before Streamlit 1.6x)."""
    return [*app.get("image"), *app.get("imgs")]


def rows(app: AppTest, index: int = 0) -> list[dict[str, Any]]:
    return list(app.dataframe[index].value.to_dict("records"))


def download_labels(app: AppTest) -> list[str]:
    return [str(b.proto.label) for b in app.get("download_button") if isinstance(b, Element)]


def test_predict_filters_client_side(
    open_page: Callable[[str], AppTest], predict_posts: list[httpx.Request]
) -> None:
    app = open_page("predict")
    app.selectbox(key="predict_model").set_value("yolov8-test").run()
    app.file_uploader(key="predict_upload").set_value(("photo.jpg", PHOTO, "image/jpeg")).run()
    assert [(r["label"], r["score"]) for r in rows(app)] == [("dog", 0.9), ("person", 0.8)]
    assert rows(app)[0] == {
        "label": "dog",
        "score": 0.9,
        "x1": 312.5,
        "y1": 112.5,
        "x2": 625.0,
        "y2": 425.0,
    }
    app.slider(key="predict_yolov8-test_threshold").set_value(0.05).run()
    assert [r["label"] for r in rows(app)] == ["dog", "person", "cat"]
    app.multiselect(key="predict_yolov8-test_classes").set_value(["person"]).run()
    assert [r["label"] for r in rows(app)] == ["person"]
    assert [i.proto.imgs[0].caption for i in images(app)] == ["photo.jpg: 1 detections"]
    assert download_labels(app) == ["Download JSON", "Download CSV", "Download annotated PNG"]
    # One request, at the floor, named after the upload; the widgets only filtered its answer.
    assert len(predict_posts) == 1
    assert predict_posts[0].url.params["score_threshold"] == "0.05"
    assert b'filename="photo.jpg"' in predict_posts[0].read()


def test_predict_batch_shows_a_gallery_and_each_error(
    open_page: Callable[[str], AppTest], synthetic_api: str, predict_posts: list[httpx.Request]
) -> None:
    app = open_page("predict")
    app.selectbox(key="predict_model").set_value("camtrap-test").run()
    uploads = [
        ("a.jpg", PHOTO, "image/jpeg"),
        ("a.jpg", PHOTO, "image/jpeg"),
        ("bad.jpg", b"nope", "image/jpeg"),
    ]
    app.file_uploader(key="predict_upload").set_value(uploads).run()
    assert [e.value for e in app.error] == [
        "bad.jpg: Image could not be decoded (HTTP 422): " + problem_detail(synthetic_api, b"nope")
    ]
    assert rows(app) == [
        {"image": "a.jpg", "animal": 1, "human": 1, "total": 2},
        {"image": "a (2).jpg", "animal": 1, "human": 1, "total": 2},
        {"image": "all images", "animal": 2, "human": 2, "total": 4},
    ]
    assert len(images(app)) == 3  # two thumbnails and the one in detail
    app.selectbox(key="predict_inspect").set_value("a (2).jpg").run()
    assert [r["label"] for r in rows(app, 1)] == ["animal", "human"]
    # Neither a widget nor the rejected image asked again (problem_detail's POST has no floor).
    assert len([r for r in predict_posts if "score_threshold" in r.url.params]) == 3


def problem_detail(url: str, data: bytes) -> str:
    """The detail the API gives for these bytes, asked directly."""
    response = httpx.post(f"{url}/v1/models/camtrap-test/predict", files={"files": ("x", data)})
    return str(response.json()["detail"])


def test_compare_gives_each_model_its_own_threshold(open_page: Callable[[str], AppTest]) -> None:
    app = open_page("compare")
    app.multiselect(key="compare_models").set_value(["yolov8-test", "camtrap-test"]).run()
    app.file_uploader(key="compare_upload").set_value(("photo.jpg", PHOTO, "image/jpeg")).run()
    assert [h.value for h in app.subheader] == ["yolov8-test", "camtrap-test"]
    assert [m.value for m in app.metric] == ["2", "2"]
    app.slider(key="compare_yolov8-test_threshold").set_value(0.85).run()
    assert [m.value for m in app.metric] == ["1", "2"]
    assert rows(app, 0) == [{"label": "dog", "count": 1}]
    assert rows(app, 1) == [{"label": "animal", "count": 1}, {"label": "human", "count": 1}]
    assert all(c.value.startswith("Server ") for c in app.caption[-2:])


def test_compare_needs_two_models(open_page: Callable[[str], AppTest]) -> None:
    app = open_page("compare")
    app.multiselect(key="compare_models").set_value(["yolov8-test"]).run()
    assert [i.value for i in app.info] == ["Choose two to four models."]


def test_segmentation_shows_mask_overlay_and_legend(open_page: Callable[[str], AppTest]) -> None:
    app = open_page("segmentation")
    app.selectbox(key="segment_model").set_value("red-test").run()
    app.file_uploader(key="segment_upload").set_value(("red.jpg", RED, "image/jpeg")).run()
    assert rows(app) == [
        {"label": "background", "colour": "#000000", "share": 0.0},
        {"label": "red", "colour": "#e6194b", "share": 1.0},
    ]
    assert len(images(app)) == 3  # original, mask, overlay
    app.slider(key="segment_opacity").set_value(0.8).run()
    assert "Overlay at 80%" in [i.proto.imgs[0].caption for i in images(app)]


def test_classification_top_k(open_page: Callable[[str], AppTest]) -> None:
    app = open_page("classification")
    app.selectbox(key="classify_model").set_value("colour-test").run()
    app.file_uploader(key="classify_upload").set_value(("red.jpg", RED, "image/jpeg")).run()
    assert [r["label"] for r in rows(app)] == ["red", "blue", "green"]
    app.slider(key="classify_colour-test_k").set_value(1).run()
    assert [r["label"] for r in rows(app)] == ["red"]
    assert len(app.get("vega_lite_chart")) == 1
    assert app.selectbox(key="classify_colour-test_target").options == ["red"]


@pytest.fixture
def explain_posts(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every explain request the UI sends."""
    sent: list[httpx.Request] = []
    send = httpx.Client.send

    def spy(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.url.path.endswith("/explain"):
            sent.append(request)
        return send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    return sent


def captions(app: AppTest) -> list[str]:
    return [str(i.proto.imgs[0].caption) for i in images(app)]


def test_classification_explains_the_chosen_class(
    open_page: Callable[[str], AppTest], explain_posts: list[httpx.Request]
) -> None:
    app = open_page("classification")
    app.selectbox(key="classify_model").set_value("colour-test").run()
    app.file_uploader(key="classify_upload").set_value(("red.jpg", RED, "image/jpeg")).run()
    method = app.selectbox(key="classify_colour-test_method")
    assert method.options == ["RISE", "Occlusion"]  # no activation output: no Score-CAM
    [caption] = captions(app)
    assert caption.startswith("RISE: where the model looked for red (1.00); 64 model runs in ")
    assert len(explain_posts) == 1
    app.slider(key="classify_opacity").set_value(0.9).run()
    assert len(explain_posts) == 1  # the slider only redraws
    app.selectbox(key="classify_colour-test_method").set_value("occlusion").run()
    [caption] = captions(app)
    assert caption.startswith("Occlusion: where the model looked for red (1.00); 1 model runs")
    app.selectbox(key="classify_colour-test_target").set_value("blue").run()
    assert "looked for blue (0.00)" in captions(app)[0]
    assert [dict(r.url.params) for r in explain_posts] == [
        {"format": "json", "method": "rise", "target": "red"},
        {"format": "json", "method": "occlusion", "target": "red"},
        {"format": "json", "method": "occlusion", "target": "blue"},
    ]
    assert not app.exception


def ask_a_detector_for_classes() -> None:
    """Run by AppTest as a script of its own (so it imports what it uses)."""
    import streamlit as st

    from fovea.core import Classes
    from fovea.ui import api
    from tests.helpers import image_bytes

    answer = api.predict("yolov8-test", "a.jpg", image_bytes((64, 64)), Classes)
    st.write(answer.message if isinstance(answer, api.Failure) else "answered")


def explain_with_a_method_the_model_lacks() -> None:
    """Run by AppTest as a script of its own: the same refusal twice, asked for once."""
    import streamlit as st

    from fovea.core import ExplainParams
    from fovea.ui import api
    from tests.helpers import image_bytes

    for _ in range(2):
        answer = api.explain("colour-test", image_bytes((64, 64)), ExplainParams(method="scorecam"))
        st.write(answer.message if isinstance(answer, api.Failure) else "explained")


def test_an_explanation_the_api_refuses_is_a_message_asked_for_once(
    synthetic_api: str, monkeypatch: pytest.MonkeyPatch, explain_posts: list[httpx.Request]
) -> None:
    monkeypatch.setenv("FOVEA_API_URL", synthetic_api)
    app = AppTest.from_function(explain_with_a_method_the_model_lacks, default_timeout=30).run()
    assert not app.exception
    message = (
        "Invalid parameter (HTTP 422): scorecam needs an activation output, and model "
        "'colour-test' names none in model.toml ([explain] activation); use rise or occlusion"
    )
    assert [m.value for m in app.markdown] == [message, message]
    assert len(explain_posts) == 1  # a refusal of the input is remembered


def test_an_answer_of_another_result_type_is_a_failure(
    synthetic_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOVEA_API_URL", synthetic_api)
    app = AppTest.from_function(ask_a_detector_for_classes, default_timeout=30).run()
    assert not app.exception
    assert [m.value for m in app.markdown] == [
        "The model answered with Detections, where this page shows Classes."
    ]


def test_pages_explain_a_missing_model(
    model_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "yolov8-test").symlink_to(model_repo / "yolov8-test")
    with api_server(tmp_path / "models", tmp_path) as url:
        app = start(url, monkeypatch)
        messages = {}
        for page in ("classification", "segmentation", "compare"):
            app.switch_page(f"views/{page}.py").run()
            messages[page] = [i.value for i in app.info]
    assert messages == {
        "classification": [
            f"No classification model is ready on {url}. "
            "The Models page lists every model, and why one failed to load."
        ],
        "segmentation": [
            f"No segmentation model is ready on {url}. "
            "The Models page lists every model, and why one failed to load."
        ],
        "compare": ["Comparing needs two ready detection models; this server has 1."],
    }


def test_models_page_shows_each_load_error(
    open_page: Callable[[str], AppTest], synthetic_api: str
) -> None:
    app = open_page("models")
    with Client(synthetic_api) as client:
        listed = client.models()
    failed = [m for m in listed if m.status == "failed"]
    assert [e.value for e in app.error] == [
        f"**{m.name}** failed to load: {m.error}" for m in failed
    ]
    assert [r["model"] for r in rows(app)] == [m.name for m in listed]
    assert {r["model"]: r["status"] for r in rows(app)}["broken-onnx"] == "failed"


def test_server_page_shows_health(open_page: Callable[[str], AppTest], synthetic_api: str) -> None:
    app = open_page("server")
    assert "Not ready" in app.warning[-1].value  # the repository holds two broken models
    statuses = httpx.get(f"{synthetic_api}/health/ready").json()["models"]
    tally = Counter(statuses.values())
    shown = {m.label: m.value for m in app.metric}
    assert {k: shown[k] for k in ("Ready", "Loading", "Failed", "Disabled")} == {
        "Ready": str(tally["ready"]),
        "Loading": "0",
        "Failed": "3",  # broken-toml, broken-onnx, pipeline-broken
        "Disabled": "0",
    }
    # Traffic from /metrics: latency percentiles of predict, "-" before any request.
    assert {"predict p50", "predict p95", "predict p99"} <= set(shown)
    assert {r["model"]: r["status"] for r in rows(app)} == statuses


def start(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app's first run: the entry script, then the default page (Predict)."""
    monkeypatch.setenv("FOVEA_API_URL", url)
    return AppTest.from_file(str(launch.APP), default_timeout=30).run()


def test_a_server_that_is_down_gets_a_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    down = closed_port_url()
    app = start(down, monkeypatch)
    assert not app.exception
    [banner] = app.error
    assert banner.value.startswith(f"Cannot reach the Fovea API at {down} (")
    assert not app.title  # the page itself does not run


def test_a_server_that_is_not_fovea_gets_a_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    with not_fovea_server() as url:
        app = start(url, monkeypatch)
    assert not app.exception
    [banner] = app.error
    assert banner.value.startswith(f"The server at {url} did not answer like a Fovea API (")


def test_the_sidebar_points_the_ui_elsewhere(
    synthetic_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = start(synthetic_api, monkeypatch)
    assert app.sidebar.text_input(key="api_url").value == synthetic_api
    assert [t.value for t in app.title] == ["Predict"]
    down = closed_port_url()
    app.sidebar.text_input(key="api_url").set_value(down + "/").run()
    assert app.error[0].value.startswith(f"Cannot reach the Fovea API at {down} (")


def test_the_api_key_reaches_a_server_that_needs_one(
    model_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with api_server(model_repo, tmp_path, FOVEA_API_KEYS="s3cret") as url:
        monkeypatch.delenv("FOVEA_API_KEY", raising=False)
        app = start(url, monkeypatch)
        [error] = app.error  # health is open to all; the model list is not
        assert error.value.startswith("Unauthorized (HTTP 401): ")
        monkeypatch.setenv("FOVEA_API_KEY", "s3cret")
        app = start(url, monkeypatch)
        assert not app.error
        assert app.selectbox(key="predict_model").options[0] == "camtrap-test"
