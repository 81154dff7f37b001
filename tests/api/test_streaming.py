"""WatchedResponse: the work stops the moment the client disconnects, and a failed write ends it
quietly."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from starlette.types import Message

from fovea.api.streaming import Sender, WatchedResponse
from fovea.errors import InvalidParameter

pytestmark = pytest.mark.anyio


async def test_a_disconnect_cancels_the_work_at_once() -> None:
    sent: list[Message] = []
    reached: list[str] = []

    async def work(sender: Sender) -> None:
        await sender.start(200, {"content-type": "text/plain"})
        await sender.write(b"first")
        reached.append("wrote")
        await anyio.sleep(30)  # a slow frame
        reached.append("never")

    async def receive() -> dict[str, Any]:
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await WatchedResponse(work)({"type": "http"}, receive, send)
    assert reached == ["wrote"]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_a_write_to_a_gone_client_ends_the_work_quietly() -> None:
    async def work(sender: Sender) -> None:
        async with anyio.create_task_group():  # errors inside task groups come grouped
            await sender.start(200, {})

    async def receive() -> dict[str, Any]:
        await anyio.sleep(30)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise OSError("connection reset")

    with anyio.fail_after(5):
        await WatchedResponse(work)({"type": "http"}, receive, send)


async def test_a_problem_before_the_answer_is_problem_json() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    sender = Sender(send)
    error = InvalidParameter("bad")
    error.retry_after_s = 3
    await sender.problem(error, instance="/x")
    assert sent[0]["status"] == 422
    assert (b"retry-after", b"3") in sent[0]["headers"]
    assert b'"instance": "/x"' in sent[1]["body"]
    assert sender.started
