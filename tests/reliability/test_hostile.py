"""Hostile and odd inputs against a live server: each gets its documented answer, and the
server's memory does not grow however often they come."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest

from fovea.bench.server import rss_mb
from tests import local_http
from tests.helpers import image_bytes
from tests.images import (
    animated_gif,
    cmyk_jpeg,
    exif_rotated_jpeg,
    png_bomb,
    sixteen_bit_png,
    truncated_jpeg,
)
from tests.servers import RunningServer

PREDICT = "/v1/models/yolov8-test/predict"


def _upload(data: bytes) -> dict[str, Any]:
    return {"files": {"files": ("x", data, "application/octet-stream")}}


# name, request kwargs, expected status, expected problem type (None: a result)
CORPUS: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("truncated-jpeg", _upload(truncated_jpeg()), 422, "image-decode"),
    ("zero-bytes", _upload(b""), 422, "image-decode"),
    ("random-bytes", _upload(os.urandom(8192)), 422, "image-decode"),
    ("png-bomb", _upload(png_bomb(20000, 20000)), 413, "too-many-pixels"),
    ("16-bit-png", _upload(sixteen_bit_png()), 200, None),
    ("cmyk-jpeg", _upload(cmyk_jpeg()), 200, None),
    ("exif-rotated", _upload(exif_rotated_jpeg((200, 100), 6)), 200, None),
    ("animated-gif", _upload(animated_gif()), 200, None),
    ("1x1", _upload(image_bytes((1, 1), fmt="PNG")), 200, None),
    ("20000x10", _upload(image_bytes((20000, 10), fmt="PNG")), 200, None),
    ("bad-base64", {"json": {"inputs": [{"image": "%%%not base64%%%"}]}}, 400, "invalid-base64"),
    (
        "wrong-content-type",
        {"content": b"<xml/>", "headers": {"content-type": "text/xml"}},
        415,
        "unsupported-media-type",
    ),
    ("body-over-limit", _upload(b"\0" * (9 * 1024 * 1024)), 413, "request-too-large"),
]


def _check(server: RunningServer, kwargs: dict[str, Any], status: int, kind: str | None) -> None:
    response = httpx.post(server.url + PREDICT, timeout=30, **kwargs)
    assert response.status_code == status, response.text[:300]
    if kind is None:
        assert "detections" in response.json()["outputs"][0]
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == f"/problems/{kind}"


@pytest.mark.parametrize(
    ("kwargs", "status", "kind"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_each_hostile_input_gets_its_documented_answer(
    live: RunningServer, kwargs: dict[str, Any], status: int, kind: str | None
) -> None:
    _check(live, kwargs, status, kind)


def test_redirect_to_a_private_address_is_refused(live: RunningServer) -> None:
    # The live server allow-lists nothing: even its first hop, on loopback, is refused.
    with local_http.serve() as base:
        body = {"inputs": [{"url": f"{base}/to-other-loopback"}]}
        response = httpx.post(live.url + PREDICT, json=body, timeout=30)
    assert (response.status_code, response.json()["type"]) == (400, "/problems/url-refused")


def test_memory_does_not_grow_under_the_corpus(live: RunningServer) -> None:
    def rounds(count: int) -> None:
        for _ in range(count):
            for _, kwargs, status, kind in CORPUS:
                _check(live, kwargs, status, kind)

    rounds(3)  # warm: allocator pools, caches and the batcher reach their steady size
    baseline = rss_mb(live.process.pid)
    rounds(6)
    after = rss_mb(live.process.pid)
    assert baseline is not None
    assert after is not None
    assert after - baseline < 25, f"RSS grew from {baseline:.0f} MB to {after:.0f} MB"


def test_base64_of_a_good_image_still_works_after_all_that(live: RunningServer) -> None:
    raw = base64.b64encode(image_bytes((1000, 600))).decode()
    response = httpx.post(live.url + PREDICT, json={"inputs": [{"image": raw}]}, timeout=30)
    assert len(response.json()["outputs"][0]["detections"]) == 2
