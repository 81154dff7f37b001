"""Pure ASGI middleware: request ids, access log, HTTP metrics, draining, body size limit, and
the rest of a refused request's body read and dropped, so the client gets the answer, not a reset.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fovea.api.errors import problem_body
from fovea.api.metrics import Metrics
from fovea.errors import FoveaError, RequestTooLarge, ShuttingDown

log = logging.getLogger("fovea.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # what we echo back and write to logs
_ALWAYS_OPEN = ("/health/", "/metrics", "/v2/health/")  # answered even while draining
_DISCARD_S = 10.0  # longest a refused body is read for: a slow client cannot hold a request


class ServingState:
    """Shared by the middleware and the health route: in-flight count and draining flag."""

    def __init__(self) -> None:
        self.in_flight = 0  # every request, refusals too
        self.working = 0  # requests passed on to the app: what a drain waits for
        self.draining = False


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        state: ServingState,
        max_body_bytes: int,
        max_discard_bytes: int,
    ) -> None:
        self.app, self.metrics, self.state = app, metrics, state
        self.max_body_bytes, self.max_discard_bytes = max_body_bytes, max_discard_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started, status = time.perf_counter(), [500]
        body = _Body(scope, receive, self.max_body_bytes, self.max_discard_bytes)

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                if body.closes(self.state.draining):
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            elif _is_last(message) and not body.complete:
                # The answer goes out whole first (its Content-Length is met), then the rest
                # of the body is read; only then is the response complete for uvicorn.
                await send({**message, "more_body": True})
                await body.discard()
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        self.state.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _send_problem(reply, refusal, v2=_is_v2(scope))
            else:
                self.state.working += 1
                try:
                    await self.app(scope, body.receive, reply)
                finally:
                    self.state.working -= 1
        except RequestTooLarge as exc:
            await _send_problem(reply, exc, v2=_is_v2(scope))
        finally:
            self.state.in_flight -= 1
            self.metrics.in_flight.dec()
            self._record(scope, status[0], time.perf_counter() - started)
            request_id.reset(token)

    def _refusal(self, scope: Scope) -> FoveaError | None:
        path = scope["path"]
        if self.state.draining and not path.startswith(_ALWAYS_OPEN):
            return ShuttingDown("the server is shutting down; retry on another instance")
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return RequestTooLarge(
                f"the body is {declared} bytes; the limit is "
                f"{self.max_body_bytes} (FOVEA_MAX_REQUEST_BYTES)"
            )
        return None

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.requests.labels(template, method, str(status)).inc()
        self.metrics.request_seconds.labels(template, method).observe(seconds)
        log.info(
            "%s %s %d %.1fms",
            method,
            scope["path"],
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


class _Body:
    """The request body: counted against the limit as the app reads it, and, when an answer
    goes out before all of it came in, the rest read and dropped before the response completes.

    uvicorn 0.55 (httptools and h11 alike) cannot be left to do it. Once a response is complete,
    `RequestResponseCycle.receive` answers `http.disconnect`, so the rest cannot be read later.
    With `Connection: close`, `RequestResponseCycle.send` closes the transport right after the
    answer, and closing a socket with unread data makes the kernel send a reset that can destroy
    the answer (RFC 9112 section 9.6). Without it, the protocol drops the rest itself
    (`HttpToolsProtocol.on_body`, `H11Protocol.handle_events`), but with no bound in bytes or
    time. So the answer goes out whole (its Content-Length met) and the rest is read here, up to
    `max_discard` bytes and `_DISCARD_S`; only then does the response complete. Past the bound
    the answer said `Connection: close`, so this is a lingering close: the client has had the
    answer all along. A client that stalls keeps only its connection, which uvicorn drains.
    """

    def __init__(self, scope: Scope, receive: Receive, max_bytes: int, max_discard: int) -> None:
        self._receive, self.max_bytes, self.max_discard = receive, max_bytes, max_discard
        declared = _header(scope, b"content-length")
        self.declared = int(declared) if declared and declared.isdigit() else None
        chunked = _header(scope, b"transfer-encoding") is not None
        self.complete = not chunked and not self.declared  # no body at all
        self.received = 0
        self.started = False  # anything received: uvicorn has sent 100 Continue if asked
        self.holds_back = (_header(scope, b"expect") or "").lower() == "100-continue"
        self.http1 = scope.get("http_version", "1.1").startswith("1")

    async def receive(self) -> Message:
        """What the app reads: streamed bytes count too, as chunked uploads declare no length."""
        message = await self._receive()
        self.received += self._note(message)
        if self.received > self.max_bytes:
            raise RequestTooLarge(
                f"the body is over the limit of {self.max_bytes} bytes (FOVEA_MAX_REQUEST_BYTES)"
            )
        return message

    def closes(self, draining: bool) -> bool:
        """Whether the answer says `Connection: close`: while the server drains, so that no
        client reuses a connection about to be closed under it; and when the answer goes out
        before the body was all read, if the client holds it back or the rest may be more than
        will be read."""
        if not self.http1:
            return False  # HTTP/2 has no Connection header
        if self.complete:
            return draining
        waiting = self.holds_back and not self.started
        unbounded = self.declared is None or self.declared - self.received > self.max_discard
        return draining or waiting or unbounded

    async def discard(self) -> None:
        if self.holds_back and not self.started:
            return  # no 100 Continue was sent: the client holds the body back (RFC 9110 10.1.1)
        dropped = 0
        with anyio.move_on_after(_DISCARD_S):
            while not self.complete and dropped <= self.max_discard:
                dropped += self._note(await self._receive())

    def _note(self, message: Message) -> int:
        """Mark the body complete at its end (or the client's disconnect); return its bytes."""
        self.started = True
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.complete = True
        return len(message.get("body", b""))


def _is_v2(scope: Scope) -> bool:
    path: str = scope["path"]
    return path == "/v2" or path.startswith("/v2/")


async def _send_problem(send: Send, error: FoveaError, v2: bool = False) -> None:
    """problem+json; on KServe V2 routes the protocol's `{"error": ...}` (400 for a 422)."""
    status = (400 if error.status == 422 else error.status) if v2 else error.status
    body = json.dumps({"error": error.detail} if v2 else problem_body(error)).encode()
    headers = [
        (b"content-type", b"application/json" if v2 else b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if error.retry_after_s is not None:
        headers.append((b"retry-after", str(error.retry_after_s).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_last(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
