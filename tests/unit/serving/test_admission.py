"""Admission: interactive requests are refused when full; background work waits, on half."""

from __future__ import annotations

import anyio
import pytest

from fovea.errors import Overloaded
from fovea.serving import Admission

pytestmark = pytest.mark.anyio


async def test_interactive_is_admitted_while_there_is_room_then_refused() -> None:
    admission = Admission()
    with admission.admit("m", limit=2) as first:
        first.grow(2)  # a request's images, once read: may overshoot the limit once
        assert admission.in_progress["m"] == 3
        with pytest.raises(Overloaded, match="has 3 images in progress; its limit is 2"):
            admission.admit("m", limit=2)
    assert admission.in_progress["m"] == 0
    with admission.admit("m", limit=2):
        pass


async def test_background_waits_for_room_and_never_takes_more_than_half() -> None:
    admission = Admission()
    held = [await admission.wait("m", limit=4) for _ in range(2)]  # half of 4
    admitted: list[str] = []

    async def third() -> None:
        with await admission.wait("m", limit=4):
            admitted.append("background")

    async with anyio.create_task_group() as group:
        group.start_soon(third)
        await anyio.sleep(0.02)
        assert admitted == []  # waiting, not refused
        with admission.admit("m", limit=4):  # interactive still finds room
            assert admission.in_progress["m"] == 3
        assert admitted == []
        held[0].__exit__(None, None, None)
        await anyio.sleep(0.02)
    assert admitted == ["background"]
    held[1].__exit__(None, None, None)
    assert (admission.in_progress["m"], admission.background["m"]) == (0, 0)
