"""The camera client: the adapter's parameters, and every failure a 502 or 504 within the
deadline (httpx's mock transport plays the camera; tests/inspection/test_e2e.py uses real ones)."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx
import pytest

from fovea.errors import CameraTimeout, CameraUnavailable
from fovea.inspection.camera import TAKE_PHOTO_PATH, CameraConfig, TakePhotoParams, take_photo
from tests.helpers import image_bytes

PHOTO = image_bytes((64, 48))
URL = "http://camera.test:5051"


def test_parameters_read_from_a_query_string_with_the_adapters_bounds() -> None:
    params = TakePhotoParams.from_query(
        "exposure_time_microseconds=20000&format=png&emulate_camera=true"
    )
    assert params.query() == {
        "exposure_time_microseconds": "20000",
        "format": "png",
        "emulate_camera": "true",
    }
    override = TakePhotoParams(exposure_time_microseconds=900, quality=80)
    assert params.merged(override).query()["exposure_time_microseconds"] == "900"
    assert params.merged(None) is params


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("exposure=1", "exposure: unknown parameter"),
        ("exposure_time_microseconds=100", "greater than or equal to 500"),
        ("quality=5", "quality: Input should be greater than or equal to 10"),
        ("format=gif", "format: Input should be"),
        ("timeout_ms=x", "timeout_ms: Input should be a valid integer"),
        ("novalue", "not a query string"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TakePhotoParams.from_query(query)


@pytest.mark.parametrize(
    ("url", "full"),
    [
        ("http://h:5051", "http://h:5051" + TAKE_PHOTO_PATH),
        ("http://h:5051/", "http://h:5051" + TAKE_PHOTO_PATH),
        ("http://h:5051/basler/take-photo", "http://h:5051/basler/take-photo"),
    ],
)
def test_a_base_url_gets_the_take_photo_path(url: str, full: str) -> None:
    assert CameraConfig.build(url, TakePhotoParams(), 1.0, 100).url == full


def shoot(
    handler: Callable[[httpx.Request], httpx.Response],
    timeout_s: float = 5.0,
    max_bytes: int = 1_000_000,
    override: TakePhotoParams | None = None,
) -> bytes:
    config = CameraConfig.build(
        URL, TakePhotoParams(exposure_time_microseconds=2000), timeout_s, max_bytes
    )

    async def run() -> bytes:
        return await take_photo(config, override, httpx.MockTransport(handler))

    return anyio.run(run)


def test_a_photo_comes_back_with_the_parameters_sent() -> None:
    seen: list[httpx.Request] = []

    def camera(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PHOTO, headers={"content-type": "image/jpeg"})

    assert shoot(camera, override=TakePhotoParams(format="jpeg")) == PHOTO
    assert seen[0].url.path == TAKE_PHOTO_PATH
    assert dict(seen[0].url.params) == {"exposure_time_microseconds": "2000", "format": "jpeg"}


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(400, json={"detail": "No image retrieved."}), "answered 400: {"),
        (httpx.Response(500), "answered 500: no body"),
        (httpx.Response(200, text="<html>not a camera</html>"), "not an image"),
        (httpx.Response(200, content=b""), "answered 0 bytes that are not an image"),
        (httpx.Response(200, content=PHOTO * 20), "over 10000 bytes"),
    ],
)
def test_an_answer_that_is_no_photo_is_camera_unavailable(
    response: httpx.Response, message: str
) -> None:
    with pytest.raises(CameraUnavailable, match=message):
        shoot(lambda request: response, max_bytes=10_000)


def test_a_camera_that_is_down_is_camera_unavailable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(CameraUnavailable, match=r"cannot reach the camera.*ConnectError"):
        shoot(refused)
    assert CameraUnavailable.status == 502


def test_a_camera_that_times_out_is_camera_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(CameraTimeout, match="no photo within 5 s"):
        shoot(slow)
    assert CameraTimeout.status == 504


def test_the_deadline_bounds_the_whole_photo() -> None:
    async def trickle(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200, content=PHOTO)

    config = CameraConfig.build(URL, TakePhotoParams(), 0.3, 1_000_000)

    async def run() -> bytes:
        return await take_photo(config, transport=httpx.MockTransport(trickle))

    started = time.monotonic()
    with pytest.raises(CameraTimeout):
        anyio.run(run)
    assert time.monotonic() - started < 2
