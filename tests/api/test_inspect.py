"""Inspection through the HTTP layer with planted-board detectors (tests/inspection/planted.py):
each exact case through the real pipeline, the input forms, `auto`, records and metrics."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.api.app import create_app
from fovea.config import Settings
from tests import local_http
from tests.helpers import image_bytes
from tests.inspection.planted import BOARD_PATTERN
from tests.ui.servers import closed_port_url

PHOTO = image_bytes((640, 640))
CAP_TOO = '[[objects]]\nlabel = "cap"\nbox = [0.2, 0.9, 0.1, 0.1]\n'
PATTERNS = {
    "board": BOARD_PATTERN,
    # Every position 0.01 off (within 0.02): OK, but `auto` prefers the exact board.
    "board-shifted": BOARD_PATTERN.replace("box = [0.5, 0.5,", "box = [0.51, 0.5,"),
    "board-missing": BOARD_PATTERN + CAP_TOO,
    "board-misplaced": BOARD_PATTERN.replace("[0.9, 0.1, 0.05, 0.05]", "[0.9, 0.2, 0.05, 0.05]"),
    "board-extra": BOARD_PATTERN.split('[[objects]]\nlabel = "cap"')[0],
    # The chip where a screw sits, a screw where the chip sits.
    "board-swapped": BOARD_PATTERN.replace(
        '"chip"\nbox = [0.5, 0.5, 0.2, 0.2]', '"chip"\nbox = [0.1, 0.1, 0.05, 0.05]'
    ).replace('"screw"\nbox = [0.1, 0.1, 0.05, 0.05]', '"screw"\nbox = [0.5, 0.5, 0.2, 0.2]'),
    # Two chips 0.05 either side of the one detected, both within reach (x 0.06).
    "board-between": BOARD_PATTERN.replace("x = 0.02", "x = 0.06").replace(
        '"chip"\nbox = [0.5, 0.5, 0.2, 0.2]',
        '"chip"\nbox = [0.45, 0.5, 0.2, 0.2]\n'
        '[[objects]]\nlabel = "chip"\nbox = [0.55, 0.5, 0.2, 0.2]',
    ),
    "single": 'model = "single-test"\n[[objects]]\nlabel = "chip"\nbox = [0.5, 0.5, 0.2, 0.2]\n',
}
AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(inspect_repo: Path, tmp_path: Path) -> Iterator[AppFactory]:
    """An app over the planted boards with every pattern of PATTERNS stored."""
    patterns = tmp_path / "data" / "patterns"
    patterns.mkdir(parents=True)
    for name, text in PATTERNS.items():
        (patterns / f"{name}.toml").write_text(text)
    opened: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        app = create_app(
            Settings(
                model_repository=inspect_repo, data_dir=tmp_path / "data", workers=2, **settings
            )
        )
        client = TestClient(app).__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def inspect(
    client: TestClient, pattern: str = "board", model: str = "inspect-test", **form: Any
) -> Any:
    files = {"file": ("board.jpg", PHOTO, "image/jpeg")}
    response = client.post(
        f"/v1/models/{model}/inspect", files=files, data={"pattern": pattern, **form}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("pattern", "model", "statuses", "extras", "decision"),
    [
        ("board", "inspect-test", ["found"] * 4, [], "OK"),
        ("board-missing", "inspect-test", ["found"] * 4 + ["missing"], [], "NOK"),
        ("board-misplaced", "inspect-test", ["found", "found", "misplaced", "found"], [], "NOK"),
        ("board-extra", "inspect-test", ["found"] * 3, ["cap"], "NOK"),
        ("board-swapped", "inspect-test", ["misplaced", "misplaced", "found", "found"], [], "NOK"),
        ("single", "single-test", ["found"], [], "OK"),
    ],
)
def test_planted_cases(
    client: TestClient,
    pattern: str,
    model: str,
    statuses: list[str],
    extras: list[str],
    decision: str,
) -> None:
    body = inspect(client, pattern, model)
    assert [p["status"] for p in body["positions"]] == statuses
    assert [e["label"] for e in body["extras"]] == extras
    assert (body["decision"], body["pattern"], body["model"]) == (decision, pattern, model)
    assert body["errors"] == sum(s != "found" for s in statuses) + len(extras)
    assert (body["width"], body["height"], body["image_id"]) == (640, 640, "board.jpg")


def test_a_misplaced_position_carries_its_offset(client: TestClient) -> None:
    screw = inspect(client, "board-misplaced")["positions"][2]
    assert screw["expected"] == [0.9, 0.2, 0.05, 0.05]
    assert screw["found"] == [0.9, 0.1, 0.05, 0.05]
    assert screw["delta"] == pytest.approx([0.0, -0.1, 0.0, 0.0])
    assert screw["offset"] == pytest.approx(0.1)


def test_one_detection_between_two_positions_counts_once(client: TestClient) -> None:
    body = inspect(client, "board-between")
    chips = [p for p in body["positions"] if p["label"] == "chip"]
    assert sorted(p["status"] for p in chips) == ["found", "missing"]
    assert (body["errors"], body["decision"]) == (1, "NOK")


def test_auto_picks_the_fewest_errors_then_the_smallest_offset(client: TestClient) -> None:
    body = inspect(client, "auto")
    assert (body["pattern"], body["decision"]) == ("board", "OK")
    ranked = [(c["pattern"], c["errors"]) for c in body["candidates"]]
    assert ranked[:2] == [("board", 0), ("board-shifted", 0)]
    assert body["candidates"][1]["total_offset"] == pytest.approx(0.01)
    assert {name for name, _ in ranked} == {n for n in PATTERNS if n != "single"}
    assert inspect(client, "auto", "single-test")["pattern"] == "single"


def test_each_pattern_judges_at_its_own_threshold(make_client: AppFactory, tmp_path: Path) -> None:
    # The cap scores 0.7: a pattern at 0.75 does not see it; the model runs once, at 0.5.
    patterns = tmp_path / "data" / "patterns"
    for name in list(PATTERNS):
        (patterns / f"{name}.toml").unlink()
    (patterns / "strict.toml").write_text("score_threshold = 0.75\n" + PATTERNS["board-extra"])
    (patterns / "usual.toml").write_text("score_threshold = 0.5\n" + PATTERNS["board-extra"])
    body = inspect(make_client(), "auto")
    assert [(c["pattern"], c["errors"]) for c in body["candidates"]] == [
        ("strict", 0),
        ("usual", 1),  # the cap, extra
    ]


def test_auto_leaves_out_model_less_patterns_of_other_labels(
    make_client: AppFactory, tmp_path: Path
) -> None:
    other = '[[objects]]\nlabel = "wheel"\nbox = [0.5, 0.5, 0.2, 0.2]\n'
    (tmp_path / "data" / "patterns" / "any-wheel.toml").write_text(other)
    (tmp_path / "data" / "patterns" / "any-chip.toml").write_text(other.replace("wheel", "chip"))
    body = inspect(make_client(), "auto")
    tried = {c["pattern"] for c in body["candidates"]}
    assert "any-chip" in tried
    assert "any-wheel" not in tried


def test_every_input_form(client: TestClient) -> None:
    encoded = base64.b64encode(PHOTO).decode()
    as_json = client.post(
        "/v1/models/inspect-test/inspect", json={"image": encoded, "pattern": "board"}
    )
    assert (as_json.status_code, as_json.json()["image_id"]) == (200, "image")
    query = client.post(
        "/v1/models/inspect-test/inspect?pattern=board-extra",
        files={"file": ("a.jpg", PHOTO)},
    )
    assert query.json()["pattern"] == "board-extra"
    inline = {"objects": [{"label": "chip", "box": [0.5, 0.5, 0.2, 0.2]}], "allow_extras": True}
    as_object = client.post(
        "/v1/models/inspect-test/inspect", json={"image": encoded, "pattern": inline}
    ).json()
    assert (as_object["pattern"], as_object["decision"]) == ("inline", "OK")
    as_toml = inspect(client, PATTERNS["board-missing"])
    assert (as_toml["pattern"], as_toml["decision"]) == ("inline", "NOK")


def test_a_url_input(make_client: AppFactory) -> None:
    client = make_client(url_allowlist=("127.0.0.1",))
    with local_http.serve() as base:  # serves a 1000x600 JPEG
        body = {"url": f"{base}/image.jpg", "pattern": "board"}
        answer = client.post("/v1/models/inspect-test/inspect", json=body).json()
    assert (answer["image_id"], answer["width"], answer["height"]) == ("url", 1000, 600)
    assert answer["pattern"] == "board"


def test_the_annotated_image_comes_on_request(client: TestClient) -> None:
    assert "annotated" not in inspect(client)
    body = inspect(client, "board-missing", annotate="true")
    picture = Image.open(io.BytesIO(base64.b64decode(body["annotated"])))
    assert (picture.format, picture.size) == ("PNG", (640, 640))
    # The missing cap's expected box (0.2, 0.9, 0.1, 0.1) is dashed red: its left edge at x 96.
    edge = [picture.getpixel((96, y)) for y in range(560, 600)]
    assert (230, 25, 75) in edge
    assert any(pixel != (230, 25, 75) for pixel in edge)


@pytest.mark.parametrize(
    ("request_args", "status", "problem"),
    [
        ({"data": {"pattern": "nope"}}, 404, "pattern-not-found"),
        (
            {"data": {"pattern": "auto"}, "model": "single-test", "stored": False},
            404,
            "pattern-not-found",
        ),
        ({"data": {"pattern": "no way"}}, 422, "invalid-parameter"),
        ({"data": {"pattern": "single"}}, 422, "invalid-parameter"),  # for single-test
        (
            {"data": {"pattern": "[[objects]]\nlabel = 'bolt'\nbox = [0.5, 0.5, 0.1, 0.1]"}},
            422,
            "invalid-pattern",
        ),
        ({"data": {"pattern": "[[objects]]\nlabel = 'chip'"}}, 422, "invalid-pattern"),
        (
            {"data": {"pattern": "board"}, "params": {"pattern": "board-extra"}},
            422,
            "invalid-parameter",
        ),
        ({"data": {"pattern": "board"}, "model": "nope"}, 404, "model-not-found"),
        ({"data": {}, "files": {}}, 400, "invalid-request"),
    ],
)
def test_refusals(
    make_client: AppFactory, tmp_path: Path, request_args: dict[str, Any], status: int, problem: str
) -> None:
    client = make_client()
    if request_args.pop("stored", True) is False:
        (tmp_path / "data" / "patterns" / "single.toml").unlink()
    model = request_args.pop("model", "inspect-test")
    files = request_args.pop("files", {"file": ("a.jpg", PHOTO)})
    response = client.post(f"/v1/models/{model}/inspect", files=files or None, **request_args)
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{problem}"


def test_json_refusals(client: TestClient) -> None:
    url = "/v1/models/inspect-test/inspect"
    assert client.post(url, content=b"").json()["type"] == "/problems/invalid-request"
    assert (
        client.post(url, content=b"{", headers={"content-type": "application/json"}).status_code
        == 400
    )
    both = client.post(url, json={"image": "x", "url": "http://a"})
    assert both.json()["type"] == "/problems/invalid-parameter"
    assert client.post(url, content=b"x", headers={"content-type": "text/csv"}).status_code == 415
    bad_pattern = {"image": "x", "pattern": {"objects": [{"label": "chip", "box": [0.5, 2]}]}}
    problem = client.post(url, json=bad_pattern).json()
    assert problem["type"] == "/problems/invalid-pattern"
    assert problem["detail"].startswith("the inline pattern: objects[0].box[1]: Input should be")
    assert client.post(url, json=[1]).json()["type"] == "/problems/invalid-parameter"
    bad_image = client.post(
        url, json={"image": base64.b64encode(b"no").decode(), "pattern": "board"}
    )
    assert bad_image.json()["type"] == "/problems/image-decode"


def test_a_classifier_cannot_inspect(model_repo: Path, tmp_path: Path) -> None:
    settings = Settings(model_repository=model_repo, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/models/colour-test/inspect",
            files={"file": ("a.jpg", PHOTO)},
            data={"pattern": "[[objects]]\nlabel = 'red'\nbox = [0.5, 0.5, 0.1, 0.1]"},
        )
    assert response.status_code == 422
    assert "needs a detector" in response.json()["detail"]


def test_nok_inspections_are_kept_and_listed(client: TestClient) -> None:
    ok = inspect(client, "board")
    nok = inspect(client, "board-missing")
    assert (ok["recorded"], nok["recorded"]) == (False, True)
    listed = client.get("/v1/inspections", params={"decision": "NOK"}).json()["inspections"]
    assert [i["id"] for i in listed] == [nok["id"]]
    assert listed[0] == {
        k: nok[k] for k in ("id", "time", "model", "pattern", "decision", "errors", "source")
    }
    kept = client.get(f"/v1/inspections/{nok['id']}").json()
    assert kept == {k: v for k, v in nok.items() if k != "annotated"}
    image = client.get(f"/v1/inspections/{nok['id']}/image")
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (640, 640)
    assert client.get(f"/v1/inspections/{ok['id']}").status_code == 404
    assert client.get("/v1/inspections", params={"decision": "maybe"}).status_code == 422


def test_every_inspection_is_kept_with_all_and_only_the_newest(make_client: AppFactory) -> None:
    client = make_client(inspect_record="all", inspect_keep=2)
    ids = [inspect(client, p)["id"] for p in ("board", "board-extra", "board")]
    listed = client.get("/v1/inspections").json()["inspections"]
    assert [i["id"] for i in listed] == ids[:0:-1]
    assert [i["decision"] for i in listed] == ["OK", "NOK"]
    assert (
        client.get(f"/v1/inspections/{ids[0]}/image").json()["type"]
        == "/problems/inspection-not-found"
    )


def test_nothing_is_kept_with_none(make_client: AppFactory) -> None:
    client = make_client(inspect_record="none")
    assert inspect(client, "board-missing")["recorded"] is False
    assert client.get("/v1/inspections").json() == {"inspections": []}


def test_metrics_count_decisions_positions_and_offsets(client: TestClient) -> None:
    inspect(client, "board")
    inspect(client, "board-misplaced")
    text = client.get("/metrics").text
    assert 'fovea_inspections_total{decision="OK",model="inspect-test",pattern="board"} 1.0' in text
    assert (
        'fovea_inspection_positions_total{model="inspect-test",pattern="board-misplaced",'
        'status="misplaced"} 1.0'
    ) in text
    assert (
        'fovea_inspection_offset_count{model="inspect-test",pattern="board-misplaced"} 4.0' in text
    )
    assert (
        'fovea_inspection_offset_bucket{le="0.001",model="inspect-test",pattern="board"} 4.0'
        in text
    )


def test_trigger_without_a_camera_is_503(client: TestClient) -> None:
    response = client.post("/v1/inspect/trigger", params={"pattern": "board"})
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/camera-not-configured"


def test_trigger_needs_a_model_or_a_pattern_that_names_one(
    make_client: AppFactory, tmp_path: Path
) -> None:
    client = make_client(camera_url=closed_port_url())
    assert client.post("/v1/inspect/trigger").json()["type"] == "/problems/invalid-parameter"
    (tmp_path / "data" / "patterns" / "anon.toml").write_text(
        PATTERNS["board"].replace('model = "inspect-test"\n', "")
    )
    assert client.post("/v1/inspect/trigger?pattern=anon").status_code == 422


def test_a_camera_that_is_down_is_502_at_once(make_client: AppFactory) -> None:
    client = make_client(camera_url=closed_port_url())
    response = client.post("/v1/inspect/trigger", params={"pattern": "board"})
    assert response.status_code == 502
    problem = response.json()
    assert problem["type"] == "/problems/camera-unavailable"
    assert "ConnectError" in problem["detail"]
