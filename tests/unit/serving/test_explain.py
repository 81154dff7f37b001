"""Explanation sweeps in process: they explain the right class or box, run every perturbed
image as admitted background work (batched where the model batches), keep out of the way of
interactive requests, and refuse bad parameters before running anything."""

from __future__ import annotations

import io
from typing import Any

import anyio
import numpy as np
import pytest
from PIL import Image

from fovea.core import ExplainParams, Params
from fovea.errors import InvalidParameter
from fovea.models import Repository
from fovea.serving import (
    Encoded,
    Explanation,
    FetchPolicy,
    ImageInput,
    Service,
    explain,
    methods_for,
)
from fovea.serving._admission import Admission, Priority
from fovea.vision import Limits
from tests import explain_models
from tests.helpers import image_bytes
from tests.unit.serving.test_service import Recorder

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    repo = Repository(explain_models.build(tmp_path_factory.mktemp("explain") / "models"))
    repo.scan()
    repo.load_all()
    return repo


def red_left_blue_right() -> bytes:
    """120x60: red on the left half, blue on the right."""
    pixels = np.zeros((60, 120, 3), np.uint8)
    pixels[:, :60, 0] = 255
    pixels[:, 60:, 2] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


async def run(
    repository: Repository,
    model: str,
    data: bytes,
    service: Service | None = None,
    cap: int = 4096,
    **params: Any,
) -> Explanation:
    served = repository.get(model)
    explained = ExplainParams.model_validate(params)
    if service is not None:
        return await explain(service, served, Encoded(data), explained, cap)
    async with Service(Limits(), FetchPolicy(), workers=2) as own:
        return await explain(own, served, Encoded(data), explained, cap)


@pytest.mark.parametrize(
    ("model", "method"),
    [("cam", "scorecam"), ("cam", "rise"), ("cam", "occlusion"), ("colour", "rise")],
)
async def test_the_red_half_explains_red(repository: Repository, model: str, method: str) -> None:
    explanation = await run(
        repository, model, red_left_blue_right(), method=method, target="red", window=8, stride=4
    )
    heatmap = explanation.heatmap
    assert (heatmap.label, heatmap.class_id, explanation.method) == ("red", 0, method)
    assert heatmap.score == pytest.approx(0.5, abs=0.01)  # half the image is red
    assert heatmap.values_hw.shape == (60, 120)  # the image's pixels, not the model's
    left, right = heatmap.values_hw[:, :60].mean(), heatmap.values_hw[:, 60:].mean()
    assert left > right + 0.2, (left, right)
    assert explanation.image.size == (120, 60)
    assert explanation.box is None
    assert set(explanation.timing_ms) == {"base", "sweep", "total"}


async def test_without_a_target_the_top_class_is_explained(repository: Repository) -> None:
    blue = image_bytes((40, 40), (10, 20, 240), fmt="PNG")
    explanation = await run(repository, "cam", blue)
    assert (explanation.method, explanation.heatmap.label) == ("scorecam", "blue")
    assert explanation.evaluations == 3  # every channel the activation has
    explanation = await run(repository, "colour", blue)
    assert (explanation.method, explanation.evaluations) == ("rise", 64)  # the defaults


def test_each_model_lists_the_methods_it_can_use(repository: Repository) -> None:
    assert methods_for(repository.get("cam")) == ("scorecam", "rise", "occlusion")
    assert methods_for(repository.get("colour")) == ("rise", "occlusion")
    assert methods_for(repository.get("planted")) == ("drise",)
    assert methods_for(repository.get("segmenter")) == ()
    assert methods_for(repository.get("two-stage")) == ()


async def test_a_detection_is_explained_by_its_box(repository: Repository) -> None:
    photo = image_bytes((1000, 600))  # planted: dog 0.9, person 0.8 (tests/helpers.py)
    first = await run(repository, "planted", photo, masks=16)
    assert (first.method, first.heatmap.label) == ("drise", "dog")
    assert first.heatmap.score == pytest.approx(0.9)
    assert first.box is not None
    np.testing.assert_allclose(first.box, [312.5, 112.5, 625.0, 425.0])
    # The planted model ignores its input: no part of the image matters more than another.
    assert not first.heatmap.values_hw.any()
    second = await run(repository, "planted", photo, masks=16, box_index=1)
    assert second.heatmap.label == "person"
    person = await run(repository, "planted", photo, masks=16, target="person")
    assert person.box is not None
    assert second.box is not None
    np.testing.assert_allclose(person.box, second.box)
    drawn = await run(repository, "planted", photo, masks=16, box=(300, 100, 600, 400))
    assert drawn.heatmap.label == "dog"  # the class of the detection it overlaps most
    assert 0.5 < drawn.heatmap.score < 0.9  # how well the dog's box matches it, x its score
    named = await run(repository, "planted", photo, masks=16, box=(0, 0, 50, 50), target="cat")
    assert named.heatmap.score == 0.0  # no cat detected there


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("colour", {"method": "scorecam"}, "scorecam needs an activation output"),
        ("cam", {"method": "drise"}, "drise does not explain classify models"),
        ("planted", {"method": "rise"}, "rise does not explain detect models; use drise"),
        ("segmenter", {}, "is a segment model; explain takes classifiers and detectors"),
        ("two-stage", {}, "runs 'planted', then 'colour' on its boxes: explain each of them"),
        ("cam", {"target": "purple"}, "target 'purple' is not a label of model 'cam'"),
        ("cam", {"box_index": 0}, "box and box_index choose a detection"),
        ("cam", {"method": "rise", "masks": 200}, "runs the model 200 times; this server allows"),
        ("planted", {"box_index": 7}, "box_index 7 is out of range: the image has 2 detections"),
        ("planted", {"box": (0, 0, 9, 9)}, "no detection overlaps box"),
        ("planted", {"box": (5, 5, 5, 9)}, "is empty"),
    ],
)
async def test_bad_parameters_are_refused_before_the_sweep(
    repository: Repository, model: str, params: dict[str, Any], message: str
) -> None:
    photo = image_bytes((1000, 600))
    admitted: list[int] = []
    async with Service(Limits(), FetchPolicy(), workers=2) as service:
        wait = service.admission.wait

        async def counted(model: str, limit: int, count: int = 1) -> Any:
            admitted.append(count)
            return await wait(model, limit, count)

        service.admission.wait = counted  # type: ignore[method-assign]
        with pytest.raises(InvalidParameter, match=message):
            await run(repository, model, photo, service, cap=100, **params)
    assert len(admitted) <= 1  # at most the unperturbed run


@pytest.fixture
def background_peaks(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every background admission, and the most background images a model held at once."""
    seen: dict[str, Any] = {"admitted": 0, "peak": 0}
    add = Admission._add

    def spy(self: Admission, model: str, count: int, priority: Priority) -> None:
        add(self, model, count, priority)
        if priority is Priority.BACKGROUND and count > 0:
            seen["admitted"] += count
            seen["peak"] = max(seen["peak"], self.background[model])

    monkeypatch.setattr(Admission, "_add", spy)
    return seen


async def test_every_perturbed_image_is_admitted_as_background_work(
    repository: Repository, background_peaks: dict[str, Any]
) -> None:
    explanation = await run(repository, "cam-small-queue", red_left_blue_right(), masks=40)
    assert explanation.method == "scorecam"
    explanation = await run(
        repository, "cam-small-queue", red_left_blue_right(), method="rise", masks=40
    )
    assert background_peaks["admitted"] == (3 + 1) + (40 + 1)  # each sweep, plus its first run
    assert background_peaks["peak"] == 2  # half of max_queue = 4: room stays for the API


async def test_a_batched_model_runs_the_sweep_in_batches(repository: Repository) -> None:
    recorder = Recorder()
    async with Service(Limits(), FetchPolicy(), workers=2, observer=recorder) as service:
        await run(repository, "cam-batched", red_left_blue_right(), service, method="rise")
    assert max(recorder.batches["cam-batched"]) == 4
    assert sum(recorder.batches["cam-batched"]) == 64 + 1


async def test_interactive_requests_are_answered_during_a_sweep(repository: Repository) -> None:
    served = repository.get("cam")
    finished: list[str] = []
    async with Service(Limits(), FetchPolicy(), workers=1) as service:

        async def sweep() -> None:
            await run(repository, "cam", red_left_blue_right(), service, method="rise", masks=1500)
            finished.append("explanation")

        async with anyio.create_task_group() as group:
            group.start_soon(sweep)
            with anyio.fail_after(30):
                while not service.admission.background.get("cam"):
                    await anyio.sleep(0.01)
            [outcome] = await service.predict(
                served, [ImageInput("now", Encoded(red_left_blue_right()))], Params()
            )
            finished.append("predict")
    assert outcome.prediction is not None
    assert finished == ["predict", "explanation"]
