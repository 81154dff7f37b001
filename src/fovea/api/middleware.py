"""Pure ASGI middleware: request ids, access log, HTTP metrics, draining, body size limit."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fovea.api.errors import problem_body
from fovea.api.metrics import Metrics
from fovea.errors import FoveaError, RequestTooLarge, ShuttingDown

log = logging.getLogger("fovea.access")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # what we echo back and write to logs
_ALWAYS_OPEN = ("/health/", "/metrics")  # answered even while draining


class ServingState:
    """Shared by the middleware and the health route: in-flight count and draining flag."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False


class RequestMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, state: ServingState, max_body_bytes: int
    ) -> None:
        self.app, self.metrics, self.state = app, metrics, state
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started, status = time.perf_counter(), [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        self.state.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _send_problem(send_with_id, refusal)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except RequestTooLarge as exc:
            await _send_problem(send_with_id, exc)
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

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed body bytes too: chunked uploads declare no length."""
        seen = [0]

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self.max_body_bytes:
                    raise RequestTooLarge(
                        f"the body is over the limit of {self.max_body_bytes} "
                        "bytes (FOVEA_MAX_REQUEST_BYTES)"
                    )
            return message

        return limited

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


async def _send_problem(send: Send, error: FoveaError) -> None:
    body = json.dumps(problem_body(error)).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if error.retry_after_s is not None:
        headers.append((b"retry-after", str(error.retry_after_s).encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
