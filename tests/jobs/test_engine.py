"""The local engine's manners: all workers for jobs while nobody else asks, all but one while
interactive requests come in."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fovea.config import Settings
from fovea.jobs.engine import LocalEngine, exif_datetime
from fovea.models import Repository
from fovea.serving import Service
from tests.helpers import encode, image_bytes


@pytest.mark.anyio
async def test_jobs_leave_a_worker_free_while_interactive_requests_come(model_repo: Path) -> None:
    settings = Settings(model_repository=model_repo)
    service = Service(settings.limits, settings.fetch_policy, workers=3)
    engine = LocalEngine(service, Repository(model_repo))
    engine.INTERACTIVE_HOLD_S = 0.2
    admission = service.admission
    async with anyio.create_task_group() as group:
        group.start_soon(engine._watch_interactive)
        await anyio.sleep(0.05)
        assert engine._running.total_tokens == 3
        with admission.admit("yolov8-test", 64):  # an interactive request in progress
            await anyio.sleep(0.05)
            assert engine._running.total_tokens == 2
        with await admission.wait("yolov8-test", 64):  # background work alone does not count
            await anyio.sleep(0.05)
            assert engine._running.total_tokens == 2  # still held after the request ended
            await anyio.sleep(0.3)
            assert engine._running.total_tokens == 3
        group.cancel_scope.cancel()


def test_exif_datetime() -> None:
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:05:01 06:12:33"
    tagged = encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif)
    assert exif_datetime(tagged) == "2026:05:01 06:12:33"
    exif.get_ifd(0x8769)[0x9003] = "yesterday"
    assert exif_datetime(encode(Image.new("RGB", (8, 8)), "JPEG", exif=exif)) is None
    assert exif_datetime(image_bytes((8, 8))) is None
    assert exif_datetime(b"not an image") is None
