"""Every refusal reaches the client as its problem response, whatever the body size: under load
(multi-image requests in flight, CPU busy) and during a SIGTERM drain, requests carrying
multi-MB bodies get their status and problem+json, and never a connection reset."""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import Message

from fovea.api import middleware
from fovea.api.metrics import Metrics
from fovea.api.middleware import RequestMiddleware, ServingState
from tests.helpers import image_bytes
from tests.servers import fovea_server

IMAGE = image_bytes((1000, 600))  # what the load decodes and runs
PHOTO = os.urandom(1_400_000)  # an ordinary photo's size; refused before anyone decodes it
MIB = 1024 * 1024
MAX_REQUEST_BYTES = 8 * MIB
MAX_DISCARD_BYTES = 6 * MIB  # the 9 MB bodies are past it: answered, then the connection closed
KEYS = [f"k{i}" for i in range(400)]  # one a request: a limit of 1 a minute stops only `limited`
CONCURRENCY = 8
ROUNDS = 5  # each round sends every kind of refusal several times at once, to catch the race
PER_KIND = 3
LOAD_THREADS = 2
LOAD_REQUESTS = 100  # each thread's most
PREDICT = "/v1/models/{}/predict"


class _Gate(ThreadingHTTPServer):
    """Image URLs that answer only once the test opens the gate: requests stay in flight."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GateHandler)
        self.arrived = threading.Semaphore(0)
        self.opened = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a fetch given up on is the server's business; the test checks the results


class _GateHandler(BaseHTTPRequestHandler):
    server: _Gate

    def do_GET(self) -> None:
        self.server.arrived.release()
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(IMAGE)))
        self.end_headers()
        # A byte every 0.2 s until the gate opens (60 s at most): the fetcher's read timeout,
        # 5 s between bytes, never fires however long the test takes.
        sent, deadline = 0, time.monotonic() + 60
        while not self.server.opened.wait(0.2) and time.monotonic() < deadline:
            self.wfile.write(IMAGE[sent : sent + 1])
            sent += 1
        self.wfile.write(IMAGE[sent:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _gate() -> Iterator[_Gate]:
    server = _Gate()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.opened.set()
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Kind:
    name: str
    model: str
    body: list[bytes]  # one multipart file each
    key: str | None  # None: no key; "fresh": a key of its own
    status: int
    problem: str
    retry_after: bool


@dataclass
class Outcome:
    kind: str
    body_bytes: int
    status: int | None = None
    problem: str | None = None
    content_type: str | None = None
    retry_after: str | None = None
    connection: str | None = None
    upload_reset: bool = False  # the server reset the connection while the body was going up
    transport_error: str | None = None


NINE_MB = [b"\0" * (9 * MIB)]
BEFORE_DRAIN = [
    Kind("too-large", "yolov8-test", NINE_MB, "fresh", 413, "request-too-large", False),
    Kind("no-key", "yolov8-test", [PHOTO] * 3, None, 401, "unauthorized", False),
    Kind("overloaded", "overload-test", [PHOTO] * 3, "fresh", 503, "overloaded", True),
    Kind("rate-limited", "yolov8-test", [PHOTO], "limited", 429, "rate-limited", True),
    Kind("no-model", "no-such-model", [PHOTO] * 2, "fresh", 404, "model-not-found", False),
]
DURING_DRAIN = [
    dataclasses.replace(k, status=503, problem="shutting-down", retry_after=True)
    for k in BEFORE_DRAIN
]


class _Keys:
    """A fresh API key for each request, so that only the `limited` key hits the rate limit."""

    def __init__(self) -> None:
        self._next = itertools.count()

    def fresh(self) -> str:
        return KEYS[next(self._next)]

    def headers(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        return {"X-API-Key": self.fresh() if key == "fresh" else key}


def _refuse(client: httpx.Client, kind: Kind, keys: _Keys) -> Outcome:
    files = [("files", (f"{i}.jpg", part, "image/jpeg")) for i, part in enumerate(kind.body)]
    outcome = Outcome(kind.name, sum(len(part) for part in kind.body))

    def trace(event: str, info: dict[str, Any]) -> None:
        # httpx goes on to read the answer after a failed upload; a proxy would answer 502.
        if event == "http11.send_request_body.failed":
            outcome.upload_reset = True

    try:
        response = client.post(
            PREDICT.format(kind.model),
            files=files,
            headers=keys.headers(kind.key),
            extensions={"trace": trace},
        )
    except httpx.TransportError as exc:
        outcome.transport_error = repr(exc)
        return outcome
    outcome.status = response.status_code
    outcome.content_type = response.headers.get("content-type")
    if outcome.content_type == "application/problem+json":
        outcome.problem = response.json()["type"]
    outcome.retry_after = response.headers.get("retry-after")
    outcome.connection = response.headers.get("connection")
    return outcome


def _rounds(url: str, kinds: list[Kind], keys: _Keys) -> list[Outcome]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    batch = [kind for _ in range(PER_KIND) for kind in kinds]
    with (
        httpx.Client(base_url=url, timeout=30, limits=limits) as client,
        concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool,
    ):
        return [
            o for _ in range(ROUNDS) for o in pool.map(lambda k: _refuse(client, k, keys), batch)
        ]


def _check(outcomes: list[Outcome], kinds: list[Kind], draining: bool) -> None:
    errors = [o for o in outcomes if o.transport_error is not None]
    assert errors == [], f"{len(errors)} of {len(outcomes)} refusals were lost: {errors[:3]}"
    by_name = {kind.name: kind for kind in kinds}
    for o in outcomes:
        kind = by_name[o.kind]
        assert (o.status, o.problem) == (kind.status, "/problems/" + kind.problem), o
        assert o.content_type == "application/problem+json", o
        assert (o.retry_after is not None and int(o.retry_after) >= 1) == kind.retry_after, o
        # Read to its end, the body leaves the connection reusable; past the bound, or while
        # the server drains, the answer says it closes.
        over = o.body_bytes > MAX_DISCARD_BYTES
        assert (o.connection == "close") == (draining or over), o
    # A body within the bound is read to its end before the connection is reused or closed:
    # the upload is never cut off by a reset.
    resets = [o for o in outcomes if o.upload_reset and o.body_bytes <= MAX_DISCARD_BYTES]
    assert resets == [], f"{len(resets)} uploads were reset: {resets[:3]}"


class _Load:
    """Threads that keep multi-image predictions going (CPU busy) until stopped."""

    def __init__(self, url: str, keys: _Keys) -> None:
        self.url, self.keys = url, keys
        self.stop = threading.Event()
        self.results: list[tuple[int | None, str | None]] = []
        self.threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        files = [("files", (f"{i}.jpg", IMAGE, "image/jpeg")) for i in range(4)]
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for _ in range(LOAD_REQUESTS):
                if self.stop.is_set():
                    return
                try:
                    response = client.post(
                        PREDICT.format("yolov8-test"),
                        files=files,
                        headers=self.keys.headers("fresh"),
                    )
                except httpx.TransportError as exc:
                    self.results.append((None, repr(exc)))
                    continue
                self.results.append((response.status_code, response.json().get("type")))
                if response.status_code != 200:
                    time.sleep(0.02)  # refused while draining: no need to spin

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def _hold(url: str, gate: _Gate, keys: _Keys) -> list[concurrent.futures.Future[httpx.Response]]:
    """Requests that stay in flight until the gate opens: one fills overload-test's queue (2),
    two more run 3 images each and then wait for a fourth."""
    image_url = f"http://127.0.0.1:{gate.server_address[1]}/held.jpg"
    encoded = {"image": base64.b64encode(IMAGE).decode()}
    bodies = [
        ("overload-test", {"inputs": [{"url": image_url}, {"url": image_url}]}),
        ("yolov8-test", {"inputs": [encoded, encoded, encoded, {"url": image_url}]}),
        ("yolov8-test", {"inputs": [encoded, encoded, encoded, {"url": image_url}]}),
    ]
    pool = concurrent.futures.ThreadPoolExecutor(len(bodies))
    futures = [
        pool.submit(
            httpx.post,
            url + PREDICT.format(model),
            json=body,
            headers=keys.headers("fresh"),
            timeout=90,
        )
        for model, body in bodies
    ]
    pool.shutdown(wait=False)
    for _ in range(4):  # every held image URL has been asked for: the requests are admitted
        assert gate.arrived.acquire(timeout=20), "the held requests did not start"
    return futures


def _wait_until_draining(url: str) -> None:
    deadline = time.monotonic() + 5
    while httpx.get(url + "/health/ready", timeout=5).status_code != 503:
        assert time.monotonic() < deadline, "readiness stayed true after SIGTERM"
        time.sleep(0.02)


def test_refusals_reach_the_client_under_load_and_during_a_drain(
    model_repo: Path, tmp_path: Path
) -> None:
    keys = _Keys()
    env = {
        "FOVEA_API_KEYS": ",".join([*KEYS, "limited"]),
        "FOVEA_RATE_LIMIT_PER_MINUTE": "1",
        "FOVEA_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
        "FOVEA_MAX_DISCARD_BYTES": str(MAX_DISCARD_BYTES),
        "FOVEA_URL_ALLOWLIST": "127.0.0.1",
        "FOVEA_URL_TIMEOUT_S": "60",
        "FOVEA_WORKERS": "2",
    }
    with _gate() as gate, fovea_server(model_repo, tmp_path, **env) as server:
        held = _hold(server.url, gate, keys)
        load = _Load(server.url, keys)
        try:
            # `limited` spends its one token; the next refill is a minute away.
            assert httpx.get(server.url + "/v1/models", headers={"X-API-Key": "limited"}).is_success
            before = _rounds(server.url, BEFORE_DRAIN, keys)
            server.process.send_signal(signal.SIGTERM)
            _wait_until_draining(server.url)
            bare = httpx.get(server.url + "/v1/models", headers=keys.headers("fresh"))
            assert bare.status_code == 503, bare.text
            assert bare.json()["type"] == "/problems/shutting-down"
            assert (bare.headers["retry-after"], bare.headers["connection"]) == ("1", "close")
            during = _rounds(server.url, DURING_DRAIN, keys)
            assert not any(f.done() for f in held), "the held work ended before the drain did"
            assert server.process.poll() is None, "the server left before its work was done"
        finally:
            load.join()  # nothing new may be sent once the held work can finish
            gate.opened.set()
        results = [future.result(timeout=60) for future in held]
        assert server.process.wait(timeout=20) == 0
    _check(before, BEFORE_DRAIN, draining=False)
    _check(during, DURING_DRAIN, draining=True)
    assert [r.status_code for r in results] == [200, 200, 200], [r.text[:200] for r in results]
    assert [len(r.json()["outputs"]) for r in results] == [2, 4, 4]
    assert load.results, "the load never ran"
    assert set(load.results) <= {(200, None), (503, "/problems/shutting-down")}, load.results


# In process, the middleware alone: how much of an unread body it reads after answering, and
# whether the answer says the connection closes. The bound here is 1000 bytes.
CHUNK = b"x" * 300
BY_LENGTH = [(b"content-length", b"900")]


@dataclass(frozen=True)
class Upload:
    headers: list[tuple[bytes, bytes]]
    chunks: int  # of CHUNK; the last ends the body, unless the client stalls after it
    stalls: bool = False
    draining: bool = False


# name: (upload, the answer says Connection: close, reads of the body after the answer)
UNREAD_CASES = {
    "within the bound: read to its end, kept open": (Upload(BY_LENGTH, 3), False, 3),
    "past the bound: read up to it, then closed": (
        Upload([(b"content-length", b"3000")], 10),
        True,
        4,
    ),
    "length unknown: closed, read to its end": (
        Upload([(b"transfer-encoding", b"chunked")], 2),
        True,
        2,
    ),
    "100-continue: closed, nothing read": (
        Upload([*BY_LENGTH, (b"expect", b"100-continue")], 3),
        True,
        0,
    ),
    "draining: read to its end, then closed": (Upload(BY_LENGTH, 3, draining=True), True, 3),
    "stalled: let go after the time bound": (Upload(BY_LENGTH, 1, stalls=True), False, 2),
    "no body: nothing to read": (Upload([], 0), False, 0),
}


async def _refuse_unread(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"no"})


def _through_middleware(upload: Upload) -> list[Message]:
    """What the middleware sends and when it reads ({"type": "read"}), in order."""
    events: list[Message] = []
    body = [
        {"type": "http.request", "body": CHUNK, "more_body": i < upload.chunks - 1 or upload.stalls}
        for i in range(upload.chunks)
    ]

    async def receive() -> Message:
        events.append({"type": "read"})
        if body:
            return body.pop(0)
        if upload.stalls:
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        events.append(message)

    state = ServingState()
    state.draining = upload.draining
    app = RequestMiddleware(_refuse_unread, Metrics(), state, 100_000, max_discard_bytes=1000)
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "path": "/v1/x"}

    async def main() -> None:
        with anyio.fail_after(5):
            await app({**scope, "headers": upload.headers}, receive, send)

    anyio.run(main)
    return events


@pytest.mark.parametrize(
    ("upload", "closes", "reads"), UNREAD_CASES.values(), ids=list(UNREAD_CASES)
)
def test_an_unread_body_is_read_after_the_answer_within_bounds(
    monkeypatch: pytest.MonkeyPatch, upload: Upload, closes: bool, reads: int
) -> None:
    monkeypatch.setattr(middleware, "_DISCARD_S", 0.2)
    events = _through_middleware(upload)
    kinds = [e["type"] for e in events]
    assert kinds.count("read") == reads
    assert "read" not in kinds[: kinds.index("http.response.body")]  # the answer goes out first
    start = events[kinds.index("http.response.start")]
    assert ((b"connection", b"close") in start["headers"]) == closes
    answer = [e for e in events if e["type"] == "http.response.body"]
    assert answer[0]["body"]  # whole, before anything is read
    assert answer[-1].get("more_body", False) is False  # and then complete
