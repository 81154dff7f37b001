"""LiveSession with a model whose every frame finishes when the test says so: at most K frames in
flight, answers in arrival order, `wait` answers all, `drop_oldest` drops what went stale."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import numpy as np
import pytest

from fovea.core import Params
from fovea.errors import ImageDecodeError
from fovea.models import Prediction, ServedModel
from fovea.serving import Encoded, Service, Source
from fovea.video.live import ClientGone, LiveOptions, LiveSession
from fovea.video.tracking import Tracker
from tests.helpers import make_detections

pytestmark = pytest.mark.anyio


@dataclass
class FakeService:
    """Frames finish when `release` is called; `running` counts frames inside the model."""

    running: int = 0
    most: int = 0
    gates: list[anyio.Event] = field(default_factory=list)
    seen: list[bytes] = field(default_factory=list)

    @contextmanager
    def _ticket(self) -> Any:
        yield None

    async def admit_background(self, model: object) -> Any:
        return self._ticket()

    async def run(self, model: object, source: Source, context: object, priority: object) -> Any:
        data = source.data if isinstance(source, Encoded) else str(source).encode()
        if data == b"bad":
            raise ImageDecodeError("not an image")
        self.running += 1
        self.most = max(self.most, self.running)
        self.seen.append(data)
        gate = anyio.Event()
        self.gates.append(gate)
        await gate.wait()
        self.running -= 1
        dets = make_detections([(0, 0, 10, 10, 0.9, 0)])
        return Prediction(dets, (640, 480), {"infer": 1.0})

    def release(self) -> None:
        for gate in self.gates:
            gate.set()


class FakeClient:
    """Frames to send, and the messages the session sends back."""

    def __init__(self, frames: list[bytes | str]) -> None:
        self.frames = frames
        self.sent: list[dict[str, Any]] = []
        self.done = anyio.Event()
        self.closed = False

    async def receive(self) -> bytes | str | None:
        if self.frames:
            return self.frames.pop(0)
        await self.done.wait()
        return None

    async def send(self, text: str) -> None:
        if self.closed:
            raise ClientGone()
        self.sent.append(json.loads(text))


def session(
    service: FakeService, client: FakeClient, policy: str, k: int, tracker: Tracker | None = None
) -> LiveSession:
    model = cast(ServedModel, object())
    options = LiveOptions(policy, k, max_bytes=100)  # type: ignore[arg-type]
    return LiveSession(
        cast(Service, service), model, cast(Any, Params()), options, client.send, tracker
    )


async def settle() -> None:
    for _ in range(20):
        await anyio.sleep(0)


async def test_wait_answers_every_frame_in_order_with_at_most_k_in_flight() -> None:
    service = FakeService()
    client = FakeClient([b"f%d" % i for i in range(7)])
    live = session(service, client, "wait", 3)
    async with anyio.create_task_group() as group:
        group.start_soon(live.run, client.receive, lambda: False)
        for _ in range(5):
            await settle()
            assert service.running <= 3
            service.release()
        await settle()
        client.done.set()
    assert service.most == 3
    assert [(m["type"], m["seq"]) for m in client.sent] == [("result", i) for i in range(7)]
    assert service.seen == [b"f%d" % i for i in range(7)]


async def test_drop_oldest_keeps_only_the_newest_waiting_frame() -> None:
    service = FakeService()
    client = FakeClient([b"f%d" % i for i in range(6)])
    live = session(service, client, "drop_oldest", 1)
    async with anyio.create_task_group() as group:
        group.start_soon(live.run, client.receive, lambda: False)
        await settle()  # all six arrived while frame 0 is in the model
        service.release()
        await settle()
        service.release()
        await settle()
        client.done.set()
    kinds = [(m["type"], m["seq"]) for m in client.sent]
    assert kinds == [("result", 0), *[("dropped", i) for i in range(1, 5)], ("result", 5)]
    assert service.most == 1
    assert "newer frame" in client.sent[1]["reason"]


async def test_bad_frames_get_an_error_and_the_stream_goes_on() -> None:
    service = FakeService()
    frames: list[bytes | str] = [b"bad", "{not json", b"x" * 101, '{"image": "AAAA", "id": "a"}']
    frames.append(b"good")
    client = FakeClient(frames)
    live = session(service, client, "wait", 2)
    async with anyio.create_task_group() as group:
        group.start_soon(live.run, client.receive, lambda: False)
        for _ in range(3):
            await settle()
            service.release()
        client.done.set()
    kinds = [(m["type"], m["seq"], m.get("problem", {}).get("type")) for m in client.sent]
    assert kinds == [
        ("error", 0, "/problems/image-decode"),
        ("error", 1, "/problems/invalid-request"),
        ("error", 2, "/problems/payload-too-large"),
        ("result", 3, None),  # base64 is decoded by the pipeline: the fake takes it as is
        ("result", 4, None),
    ]


async def test_stop_answers_what_was_received_then_ends() -> None:
    service = FakeService()
    client = FakeClient([b"f0", b"f1"])
    live = session(service, client, "wait", 2)
    stopping = False
    ended: list[str] = []

    async def run() -> None:
        ended.append(await live.run(client.receive, lambda: stopping))

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await settle()
        stopping = True
        await anyio.sleep(0.1)  # the session notices, stops reading, and waits for the frames
        assert client.sent == []
        service.release()
    assert ended == ["shutdown"]
    assert [m["seq"] for m in client.sent] == [0, 1]


async def test_a_client_that_leaves_cancels_its_frames() -> None:
    service = FakeService()
    client = FakeClient([b"f0", b"f1"])
    live = session(service, client, "drop_oldest", 2)  # reading never stops: noticed at once
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(live.run, client.receive, lambda: False)
            await settle()
            assert service.running == 2
            client.done.set()  # the client closes with two frames in the model
    assert service.running == 2  # never finished: cancelled inside the model
    assert client.sent == []


async def test_in_wait_mode_a_client_that_leaves_is_noticed_when_a_slot_frees() -> None:
    service = FakeService()
    client = FakeClient([b"f0", b"f1"])
    live = session(service, client, "wait", 2)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(live.run, client.receive, lambda: False)
            await settle()
            client.done.set()
            service.gates[0].set()  # frame 0 finishes; frame 1 is still in the model
    assert service.running == 1  # frame 1 was cancelled


async def test_sending_to_a_closed_client_ends_the_session() -> None:
    service = FakeService()
    client = FakeClient([b"f0"])
    client.closed = True
    live = session(service, client, "wait", 1)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(live.run, client.receive, lambda: False)
            await settle()
            service.release()
    assert client.sent == []


async def test_tracking_numbers_objects_in_arrival_order() -> None:
    service = FakeService()
    client = FakeClient([b"f0", b"f1", b"f2"])
    tracker = await anyio.to_thread.run_sync(Tracker, 30.0)
    live = session(service, client, "wait", 3, tracker)
    async with anyio.create_task_group() as group:
        group.start_soon(live.run, client.receive, lambda: False)
        await settle()
        await anyio.sleep(0.01)  # the tracker needs time to advance between frames
        service.release()
        await settle()
        client.done.set()
    ids = [m["output"]["detections"][0].get("tracker_id") for m in client.sent]
    assert ids[0] is None
    assert ids[1] is not None
    assert ids[1] == ids[2]
    assert np.isfinite(client.sent[0]["latency_ms"])
