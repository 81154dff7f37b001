"""A response whose work runs only while the client is there: a task listens for the client's
disconnect and cancels the work at once. Starlette's StreamingResponse notices a disconnect only
when it next writes (ASGI spec 2.4 servers), which for a video can be a slow frame later.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fovea.api.errors import PROBLEM_JSON, problem_body
from fovea.errors import FoveaError


class Sender:
    """What the work writes through: `start` once, then `write` chunks; `end` finishes."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def start(self, status: int, headers: Mapping[str, str]) -> None:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await self._send({"type": "http.response.start", "status": status, "headers": raw})
        self.started = True

    async def write(self, chunk: bytes) -> None:
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def end(self) -> None:
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def problem(self, error: FoveaError, **extra: Any) -> None:
        """The whole answer as problem+json (only before anything else was sent)."""
        body = json.dumps(problem_body(error, **extra)).encode()
        headers = {"content-type": PROBLEM_JSON, "content-length": str(len(body))}
        if error.retry_after_s is not None:
            headers["retry-after"] = str(error.retry_after_s)
        await self.start(error.status, headers)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


Work = Callable[[Sender], Awaitable[None]]


class WatchedResponse(Response):
    """Runs `work(sender)`; a client that disconnects cancels it, wherever it is."""

    def __init__(self, work: Work) -> None:
        super().__init__()
        self.work = work

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await self.work(Sender(send))
            except* OSError:  # the client went away as we wrote: as a disconnect
                pass
            group.cancel_scope.cancel()
