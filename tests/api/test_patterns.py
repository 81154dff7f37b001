"""Patterns as a resource: PUT (TOML or JSON, validated, atomic), GET, list, DELETE."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.inspection.patterns import MAX_PATTERN_BYTES
from tests.inspection.planted import BOARD_PATTERN

TOML = {"content-type": "application/toml"}


@pytest.fixture
def client(inspect_repo: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(model_repository=inspect_repo, patterns_dir=tmp_path / "p", workers=1)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_put_keeps_the_toml_as_sent_and_answers_it_parsed(
    client: TestClient, tmp_path: Path
) -> None:
    created = client.put("/v1/patterns/board", content=BOARD_PATTERN, headers=TOML)
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["toml"]) == ("board", BOARD_PATTERN)
    assert body["pattern"]["objects"][0] == {
        "label": "chip",
        "box": [0.5, 0.5, 0.2, 0.2],
        "tolerance": None,
    }
    assert (tmp_path / "p" / "board.toml").read_text() == BOARD_PATTERN
    replaced = client.put(
        "/v1/patterns/board", content=BOARD_PATTERN, headers={"content-type": "text/plain"}
    )
    assert replaced.status_code == 200
    assert os.listdir(tmp_path / "p") == ["board.toml"]  # no temporary left behind
    assert client.get("/v1/patterns/board").json() == body


def test_put_json_stores_toml(client: TestClient, tmp_path: Path) -> None:
    pattern = {"model": "inspect-test", "counts": {"screw": [2, 2]}}
    response = client.put("/v1/patterns/counted", json=pattern)
    assert response.status_code == 201
    stored = (tmp_path / "p" / "counted.toml").read_text()
    assert response.json()["toml"] == stored
    assert stored.splitlines() == [
        'model = "inspect-test"',
        "",
        "[tolerance]",
        "x = 0.05",
        "y = 0.05",
        "w = 0.1",
        "h = 0.1",
        "",
        "[counts]",
        "screw = [2, 2]",
    ]
    assert client.get("/v1/patterns/counted").json()["pattern"]["counts"] == {"screw": [2, 2]}


@pytest.mark.parametrize(
    ("content", "headers", "status", "problem", "detail"),
    [
        (b"objects = 3", TOML, 422, "invalid-pattern", "the pattern: objects: Input should be"),
        (b"model = ", TOML, 422, "invalid-pattern", "not valid TOML"),
        (b"{", {"content-type": "application/json"}, 422, "invalid-pattern", "not valid JSON"),
        (b"\xff\xfe", TOML, 422, "invalid-pattern", "not UTF-8"),
        (b"a,b", {"content-type": "text/csv"}, 415, "unsupported-media-type", "text/csv"),
        (b"#" * (MAX_PATTERN_BYTES + 1), TOML, 413, "payload-too-large", "at most"),
    ],
)
def test_a_bad_put_is_refused_and_stores_nothing(
    client: TestClient,
    tmp_path: Path,
    content: bytes,
    headers: dict[str, str],
    status: int,
    problem: str,
    detail: str,
) -> None:
    response = client.put("/v1/patterns/board", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["type"] == f"/problems/{problem}"
    assert detail in response.json()["detail"]
    assert not (tmp_path / "p" / "board.toml").exists()


@pytest.mark.parametrize("name", ["auto", "inline", "a%20b", ".x"])
def test_reserved_or_odd_names_are_refused(client: TestClient, name: str) -> None:
    response = client.put(f"/v1/patterns/{name}", content=BOARD_PATTERN, headers=TOML)
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-parameter"


def test_list_filter_and_broken_files(client: TestClient, tmp_path: Path) -> None:
    client.put("/v1/patterns/board", content=BOARD_PATTERN, headers=TOML)
    client.put(
        "/v1/patterns/other", content=BOARD_PATTERN.replace("inspect-test", "x"), headers=TOML
    )
    (tmp_path / "p" / "broken.toml").write_text("objects = 3")
    listed = client.get("/v1/patterns").json()["patterns"]
    assert [(p["name"], p["model"], p["objects"]) for p in listed] == [
        ("board", "inspect-test", 4),
        ("broken", None, 0),
        ("other", "x", 4),
    ]
    assert listed[0]["labels"] == ["cap", "chip", "screw"]
    assert listed[1]["error"].startswith("broken.toml: objects:")
    only = client.get("/v1/patterns", params={"model": "x"}).json()["patterns"]
    assert [p["name"] for p in only] == ["broken", "other"]  # a broken file is always shown
    assert client.get("/v1/patterns/broken").json()["type"] == "/problems/invalid-pattern"


def test_delete(client: TestClient) -> None:
    client.put("/v1/patterns/board", content=BOARD_PATTERN, headers=TOML)
    assert client.delete("/v1/patterns/board").status_code == 204
    assert client.get("/v1/patterns/board").status_code == 404
    gone = client.delete("/v1/patterns/board")
    assert (gone.status_code, gone.json()["type"]) == (404, "/problems/pattern-not-found")
    assert client.get("/v1/patterns").json() == {"patterns": []}
