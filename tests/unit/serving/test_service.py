"""The serving path in process: the batched path under concurrency gives exactly what the
unbatched path gives, interactive work goes first, and one bad item fails alone."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from PIL import Image

from fovea.core import Classes, Mask, Params, Result
from fovea.errors import InvalidBase64, InvalidParameter
from fovea.models import Repository
from fovea.serving import Base64, Encoded, FetchPolicy, Frame, ImageInput, Priority, Service
from fovea.vision import Limits
from tests.helpers import single

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.batches: dict[str, list[int]] = {}
        self.predictions: list[tuple[str, bool]] = []

    def observe_prediction(
        self,
        model: str,
        timing_ms: Mapping[str, float],
        ok: bool,
        cpu_ms: Mapping[str, float] | None = None,
    ) -> None:
        self.predictions.append((model, ok))

    def observe_batch(self, model: str, size: int) -> None:
        self.batches.setdefault(model, []).append(size)


@pytest.fixture(scope="module")
def repository(model_repo: Path) -> Repository:
    repo = Repository(model_repo)
    repo.scan()
    repo.load_all()
    return repo


def _images(count: int) -> list[bytes]:
    rng = np.random.default_rng(7)
    out = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


async def _each_alone(
    service: Service, model: str, repo: Repository, images: list[bytes]
) -> list[Result]:
    served = repo.get(model)
    results: list[tuple[int, Result]] = []

    async def one(index: int, data: bytes) -> None:
        [outcome] = await service.predict(served, [ImageInput(str(index), Encoded(data))], Params())
        assert outcome.prediction is not None
        results.append((index, outcome.prediction.result))

    async with anyio.create_task_group() as group:
        for index, data in enumerate(images):
            group.start_soon(one, index, data)
    return [result for _, result in sorted(results, key=lambda pair: pair[0])]


@pytest.mark.parametrize(
    ("batched", "unbatched"),
    [("colour-batched", "colour-test"), ("channel-batched", "channel-test")],
)
async def test_batched_results_equal_unbatched_ones_exactly(
    repository: Repository, batched: str, unbatched: str
) -> None:
    images = _images(16)
    recorder = Recorder()
    async with Service(Limits(), FetchPolicy(), workers=2, observer=recorder) as service:
        together = await _each_alone(service, batched, repository, images)
        alone = await _each_alone(service, unbatched, repository, images)
    assert max(recorder.batches[batched]) > 1  # the batched path really stacked images
    assert set(recorder.batches[unbatched]) == {1}
    for a, b in zip(together, alone, strict=True):
        if isinstance(a, Classes):
            assert isinstance(b, Classes)
            assert a.class_id.tolist() == b.class_id.tolist()
            assert a.score.tobytes() == b.score.tobytes()
        else:
            assert isinstance(a, Mask)
            assert isinstance(b, Mask)
            assert a.class_map_hw.tobytes() == b.class_map_hw.tobytes()


async def test_frames_and_bytes_give_the_same_answer(repository: Repository) -> None:
    pixels = np.zeros((60, 80, 3), np.uint8)
    pixels[..., 1] = 250  # green
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    served = repository.get("colour-batched")
    inputs = [ImageInput("frame", Frame(pixels)), ImageInput("png", Encoded(buffer.getvalue()))]
    async with Service(Limits(), FetchPolicy(), workers=2) as service:
        outcomes = await service.predict(served, inputs, Params(top_k=1))
    results = [o.prediction.result for o in outcomes if o.prediction is not None]
    assert [r.class_name for r in results if isinstance(r, Classes)] == [["green"], ["green"]]


async def test_a_bad_base64_item_fails_alone_and_is_observed(repository: Repository) -> None:
    recorder = Recorder()
    served = repository.get("colour-test")
    good = __import__("base64").b64encode(_images(1)[0]).decode()
    inputs = [ImageInput("bad", Base64("not base64!")), ImageInput("good", Base64(good))]
    async with Service(Limits(), FetchPolicy(), workers=2, observer=recorder) as service:
        bad, fine = await service.predict(served, inputs, Params())
        with pytest.raises(InvalidParameter, match="not labels of model 'colour-test'"):
            await service.predict(served, inputs, Params(classes=("purple",)))
    assert isinstance(bad.error, InvalidBase64)
    assert fine.prediction is not None
    assert sorted(recorder.predictions) == [("colour-test", False), ("colour-test", True)]


async def test_interactive_requests_go_ahead_of_queued_background_work(
    repository: Repository,
) -> None:
    served = repository.get("overload-test")  # slow: each image takes real inference time
    images = _images(1)
    finished: list[str] = []
    async with Service(Limits(), FetchPolicy(), workers=1) as service:

        async def run(name: str, priority: Priority) -> None:
            await service.predict(
                served, [ImageInput(name, Encoded(images[0]))], Params(), priority
            )
            finished.append(name)

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(run, f"background-{i}", Priority.BACKGROUND)
            await anyio.sleep(0.01)
            group.start_soon(run, "interactive", Priority.INTERACTIVE)
    assert finished.index("interactive") <= 1  # at most the one already running goes first


async def test_a_url_slower_than_httpx_default_but_within_the_policy_is_fetched(
    repository: Repository,
) -> None:
    from fovea.serving import Url
    from tests import local_http

    policy = FetchPolicy.build(timeout_s=8, max_bytes=10_000_000, allowlist=["127.0.0.1"])
    with local_http.serve() as base:
        async with Service(Limits(), policy, workers=1) as service:
            [outcome] = await service.predict(
                repository.get("colour-test"), [ImageInput("slow", Url(f"{base}/slower"))], Params()
            )
    assert outcome.error is None
    assert outcome.prediction is not None


async def test_an_image_alone_on_the_server_may_use_every_core(repository: Repository) -> None:
    served = single(repository, "colour-test")
    seen: list[bool] = []
    infer = served.infer

    def recording(tensors: list[Any], *, idle: bool = False) -> Any:
        seen.append(idle)
        return infer(tensors, idle=idle)

    served.infer = recording  # type: ignore[method-assign,assignment]
    try:
        images = [ImageInput(str(i), Encoded(data)) for i, data in enumerate(_images(6))]
        async with Service(Limits(), FetchPolicy(), workers=2) as service:
            await service.predict(served, images[:1], Params())
            await service.predict(served, images, Params())
    finally:
        del served.infer
    assert seen[0] is True  # alone: the idle session
    assert seen[1:].count(False) >= 4  # six at once: mostly the one-thread session
