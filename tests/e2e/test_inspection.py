"""Trigger, photo, inspection and OK / NOK end to end: `fovea camera emulate` and `fovea serve`
as real processes on 127.0.0.1, driven over sockets by the client and the CLI. A camera that is
slow gives 504 within FOVEA_CAMERA_TIMEOUT_S, one that is down or answers garbage 502."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.api.app import create_app
from fovea.client import APIError, AsyncClient, Client
from fovea.config import Settings
from fovea.inspection.camera import TakePhotoParams
from fovea.inspection.patterns import parse_pattern
from tests.inspection.cameras import emulated_camera, photo_folder
from tests.inspection.planted import BOARD_PATTERN
from tests.servers import fovea_server
from tests.ui.servers import closed_port_url, not_fovea_server

MISSING = BOARD_PATTERN + '[[objects]]\nlabel = "cap"\nbox = [0.2, 0.9, 0.1, 0.1]\n'


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("camera")
    with emulated_camera(photo_folder(root / "photos"), root) as url:
        yield url


@pytest.fixture(scope="module")
def server(
    inspect_repo: Path, camera: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fovea_server(
        inspect_repo,
        tmp_path_factory.mktemp("inspect-server"),
        FOVEA_CAMERA_URL=camera,
        FOVEA_CAMERA_PARAMS="format=png&exposure_time_microseconds=1000",
        FOVEA_CAMERA_TIMEOUT_S="1",
        FOVEA_INSPECT_RECORD="all",
    ) as running:
        with Client(running.url) as client:
            client.put_pattern("board", BOARD_PATTERN)
            client.put_pattern("board-missing", MISSING)
        yield running.url


def test_trigger_takes_a_photo_and_judges_it_ok(server: str) -> None:
    with Client(server) as client:
        answer = client.trigger(pattern="board", annotate=True)
        assert (answer.decision, answer.source, answer.model) == ("OK", "camera", "inspect-test")
        assert answer.timing.camera is not None
        assert answer.timing.camera > 0
        assert answer.annotated is not None
        picture = Image.open(io.BytesIO(base64.b64decode(answer.annotated)))
        assert picture.size == (640, 640)
        assert answer.recorded
        kept = client.inspections(limit=1)[0]
        assert (kept.id, kept.decision, kept.source) == (answer.id, "OK", "camera")
        photo = Image.open(io.BytesIO(client.inspection_image(answer.id)))
        assert (photo.format, photo.size) == ("JPEG", (640, 640))


def test_trigger_nok_names_what_is_wrong(server: str) -> None:
    with Client(server) as client:
        answer = client.trigger(model="inspect-test", pattern="auto")
        assert (answer.pattern, answer.decision) == ("board", "OK")  # auto: the better one
        nok = client.trigger(pattern="board-missing")
        assert (nok.decision, nok.errors) == ("NOK", 1)
        assert [p.status for p in nok.positions][-1] == "missing"
        assert client.inspections(decision="NOK")[0].id == nok.id
        assert client.inspection(nok.id).positions == nok.positions


def test_a_slow_camera_is_504_within_the_deadline(server: str) -> None:
    slow = TakePhotoParams(exposure_time_microseconds=3_000_000, timeout_ms=10_000)
    started = time.monotonic()
    with Client(server) as client, pytest.raises(APIError) as caught:
        client.trigger(pattern="board", camera=slow)
    assert time.monotonic() - started < 2.5  # FOVEA_CAMERA_TIMEOUT_S is 1
    assert (caught.value.status, caught.value.type) == (504, "/problems/camera-timeout")


def test_camera_parameters_are_checked_before_the_photo(server: str) -> None:
    response = httpx.post(
        f"{server}/v1/inspect/trigger",
        params={"pattern": "board"},
        json={"camera": {"exposure_time_microseconds": 1}},
    )
    assert response.status_code == 422


def test_the_cli_against_the_server(server: str, tmp_path: Path) -> None:
    photo = photo_folder(tmp_path, 1) / "board-0.jpg"
    for pattern, code in (("board", 0), ("board-missing", 3)):
        result = subprocess.run(
            [sys.executable, "-m", "fovea", "inspect", str(photo), "-p", pattern, "-s", server],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == code, result.stderr
        assert result.stderr.splitlines()[-1].startswith("OK" if code == 0 else "NOK")


@pytest.mark.parametrize("camera_kind", ["down", "garbage"])
def test_a_camera_that_is_down_or_answers_garbage_is_502(
    inspect_repo: Path, tmp_path: Path, camera_kind: str
) -> None:
    (tmp_path / "patterns").mkdir()
    (tmp_path / "patterns" / "board.toml").write_text(BOARD_PATTERN)
    with not_fovea_server() as garbage:
        url = closed_port_url() if camera_kind == "down" else garbage
        settings = Settings(model_repository=inspect_repo, data_dir=tmp_path, camera_url=url)
        with TestClient(create_app(settings)) as client:
            started = time.monotonic()
            response = client.post("/v1/inspect/trigger", params={"pattern": "board"})
    assert time.monotonic() - started < 5
    assert response.status_code == 502
    problem = response.json()
    assert problem["type"] == "/problems/camera-unavailable"
    want = "ConnectError" if camera_kind == "down" else "not an image"
    assert want in problem["detail"]


def test_the_clients_pattern_and_history_methods(server: str, tmp_path: Path) -> None:
    photo = photo_folder(tmp_path, 1) / "board-0.jpg"
    with Client(server) as client:
        assert [p.name for p in client.patterns("inspect-test")] == ["board", "board-missing"]
        detail = client.put_pattern("scratch", parse_pattern(BOARD_PATTERN))
        assert (detail.name, detail.pattern.model) == ("scratch", "inspect-test")
        assert client.pattern("scratch").pattern == detail.pattern
        answer = client.inspect("inspect-test", photo, "scratch")
        assert (answer.pattern, answer.image_id) == ("scratch", "board-0.jpg")
        client.delete_pattern("scratch")
        with pytest.raises(APIError) as caught:
            client.delete_pattern("scratch")
        assert caught.value.status == 404


def test_the_async_client_does_the_same(server: str, tmp_path: Path) -> None:
    photo = (photo_folder(tmp_path, 1) / "board-0.jpg").read_bytes()

    async def run() -> None:
        async with AsyncClient(server) as client:
            names = [p.name for p in await client.patterns()]
            assert names == ["board", "board-missing"]
            await client.put_pattern("scratch-async", BOARD_PATTERN)
            assert (await client.pattern("scratch-async")).toml == BOARD_PATTERN
            answer = await client.inspect("inspect-test", photo, "scratch-async", filename="p.jpg")
            assert (answer.decision, answer.image_id) == ("OK", "p.jpg")
            await client.delete_pattern("scratch-async")
            triggered = await client.trigger(pattern="board-missing")
            assert triggered.decision == "NOK"
            [kept] = await client.inspections(decision="NOK", pattern="board-missing", limit=1)
            assert kept.id == triggered.id
            assert (await client.inspection(kept.id)).errors == 1
            assert (await client.inspection_image(kept.id))[:2] == b"\xff\xd8"  # a JPEG

    anyio.run(run)


def test_learn_against_the_server_stores_the_pattern_there(server: str, tmp_path: Path) -> None:
    examples = photo_folder(tmp_path / "good", 2)
    result = subprocess.run(
        [sys.executable, "-m", "fovea", "patterns", "learn", str(examples), "-m", "inspect-test",
         "-n", "learned-remote", "-s", server],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the pattern accepts 2 of 2 (100%)" in result.stdout
    with Client(server) as client:
        learned = client.pattern("learned-remote").pattern
        assert (learned.model, len(learned.objects)) == ("inspect-test", 4)
        assert client.trigger(pattern="learned-remote").decision == "OK"
        client.delete_pattern("learned-remote")
