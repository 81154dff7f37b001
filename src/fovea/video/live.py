"""One live stream of frames (a WebSocket): each frame, JPEG/PNG bytes or JSON with base64, goes
through the model at background priority; one answer per frame goes back, in arrival order (`seq`
from 0). At most K frames are processed at once. The policy is chosen per stream:

- `wait` (a file): no frame is read while K are in flight, so every frame is answered and the
  sender is held back (by TCP) instead. A client that closes meanwhile is noticed when a slot
  frees, and its other frames are cancelled then.
- `drop_oldest` (a live camera): reading never stops; at most one frame waits for a slot, and a
  waiting frame is dropped, and reported as dropped, when a newer one arrives.

The transport is two callables, so this holds no web code; `run` returns why the stream ended.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio.abc import TaskGroup
from pydantic import ValidationError

from fovea.core import Detections
from fovea.errors import FoveaError, InvalidRequest, PayloadTooLarge
from fovea.models import Prediction, Servable
from fovea.serving import Base64, Encoded, Priority, Service, Source
from fovea.tasks import DecodeContext
from fovea.video.tracking import Tracker
from fovea.wire import (
    Problem,
    StreamDropped,
    StreamError,
    StreamFrame,
    StreamResult,
    output_of,
)

Policy = Literal["wait", "drop_oldest"]
Receive = Callable[[], Awaitable[bytes | str | None]]  # None once the client has closed
Send = Callable[[str], Awaitable[None]]  # raises ClientGone once the client has closed
Ended = Literal["client", "shutdown"]
STOP_POLL_S = 0.05


class ClientGone(Exception):
    """The client closed the stream: stop everything at once."""


@dataclass(frozen=True)
class LiveOptions:
    policy: Policy = "wait"
    max_in_flight: int = 2
    max_bytes: int = 20 * 1024 * 1024


@dataclass(eq=False)
class _Item:
    seq: int
    arrived: float
    id: str | None = None
    source: Source | None = None
    prediction: Prediction | None = None
    error: FoveaError | None = None
    dropped: bool = False

    @property
    def answered(self) -> bool:
        return self.prediction is not None or self.error is not None or self.dropped


@dataclass(eq=False)
class LiveSession:
    service: Service
    model: Servable
    context: DecodeContext
    options: LiveOptions
    send: Send
    tracker: Tracker | None = None
    observe: Callable[[str], None] | None = None  # each frame's outcome: answered, dropped, error
    _items: dict[int, _Item] = field(default_factory=dict)
    _received: int = 0
    _sent: int = 0
    _running: int = 0
    _waiting: _Item | None = None
    _reading: bool = True
    _changed: anyio.Event = field(default_factory=anyio.Event)
    _started: float = field(default_factory=time.perf_counter)

    async def run(self, receive: Receive, stop: Callable[[], bool]) -> Ended:
        """Serve frames until the client closes (in-flight work is cancelled) or `stop()` turns
        true (frames already received are answered first)."""
        ended: Ended = "shutdown"
        try:
            async with anyio.create_task_group() as group:
                reading = anyio.CancelScope()
                group.start_soon(self._watch_stop, stop, reading)
                group.start_soon(self._write)
                with reading:
                    ended = await self._read(receive, group)
                self._reading = False
                self._wake()
                if ended == "client":
                    group.cancel_scope.cancel()
        except* ClientGone:
            ended = "client"
        return ended

    async def _read(self, receive: Receive, group: TaskGroup) -> Ended:
        while True:
            if self.options.policy == "wait":
                while self._running >= self.options.max_in_flight:
                    await self._changed_wait()
            message = await receive()
            if message is None:
                return "client"
            item = self._item(message)
            if item.answered:
                self._wake()
            elif self._running < self.options.max_in_flight:
                self._start(item, group)
            else:  # drop_oldest, every slot busy: the newest frame waits in place of the last
                if self._waiting is not None:
                    self._waiting.dropped = True
                    self._wake()
                self._waiting = item

    def _item(self, message: bytes | str) -> _Item:
        item = _Item(self._received, time.perf_counter())
        self._items[item.seq] = item
        self._received += 1
        try:
            if isinstance(message, bytes):
                if len(message) > self.options.max_bytes:
                    raise PayloadTooLarge(
                        f"the frame is {len(message)} bytes; the limit is {self.options.max_bytes}"
                    )
                item.source = Encoded(message)
            else:
                parsed = _json_frame(message)
                item.id, item.source = parsed.id, Base64(parsed.image)
        except FoveaError as exc:
            item.error = exc
        return item

    def _start(self, item: _Item, group: TaskGroup) -> None:
        self._running += 1
        group.start_soon(self._answer, item, group)

    async def _answer(self, item: _Item, group: TaskGroup) -> None:
        assert item.source is not None
        try:
            with await self.service.admit_background(self.model):
                item.prediction = await self.service.run(
                    self.model, item.source, self.context, Priority.BACKGROUND
                )
        except FoveaError as exc:
            item.error = exc
        finally:
            item.source = None  # the frame's bytes are no longer needed
            self._running -= 1
            if self._waiting is not None:
                waiting, self._waiting = self._waiting, None
                self._start(waiting, group)
            self._wake()

    async def _write(self) -> None:
        """Answers in `seq` order, as soon as each one and all before it are ready."""
        while True:
            while (item := self._items.get(self._sent)) is not None and item.answered:
                del self._items[self._sent]
                self._sent += 1
                await self.send(self._message(item))
            if not self._reading and self._sent == self._received:
                return
            await self._changed_wait()

    def _message(self, item: _Item) -> str:
        if item.dropped:
            outcome = "dropped"
            reason = "a newer frame arrived while this one waited (drop_oldest)"
            text = StreamDropped(seq=item.seq, id=item.id, reason=reason).model_dump_json()
        elif item.error is not None:
            outcome = "error"
            error = StreamError(seq=item.seq, id=item.id, problem=problem_of(item.error))
            text = error.model_dump_json(exclude_none=True)
        else:
            outcome = "answered"
            text = self._result(item)
        if self.observe is not None:
            self.observe(outcome)
        return text

    def _result(self, item: _Item) -> str:
        assert item.prediction is not None
        prediction, result = item.prediction, item.prediction.result
        if self.tracker is not None and isinstance(result, Detections):
            result = self.tracker.update(result, item.arrived - self._started)
        name = item.id or str(item.seq)
        output = output_of(name, result, prediction.size_wh, prediction.timing_ms)
        latency = round((time.perf_counter() - item.arrived) * 1000, 3)
        message = StreamResult(seq=item.seq, id=item.id, output=output, latency_ms=latency)
        return message.model_dump_json(exclude_none=True)

    async def _watch_stop(self, stop: Callable[[], bool], reading: anyio.CancelScope) -> None:
        while not stop():
            await anyio.sleep(STOP_POLL_S)
        reading.cancel()

    async def _changed_wait(self) -> None:
        await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


def problem_of(error: FoveaError) -> Problem:
    return Problem(
        type=f"/problems/{error.type}", title=error.title, status=error.status, detail=error.detail
    )


def _json_frame(text: str) -> StreamFrame:
    try:
        return StreamFrame.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidRequest(
            'a text frame must be JSON {"image": "<base64>", "id": "..."}: ' + first["msg"]
        ) from exc
