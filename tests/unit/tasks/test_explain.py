"""The explanation methods as pure sweeps: each finds a planted region with a toy scorer that
only looks there, counts its runs as documented, and is reproducible."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from fovea.core import Detections, ExplainParams, Method
from fovea.tasks.explain import METHODS, Base, Sweep, normalised
from fovea.tasks.explain._base import blend, upsampled
from fovea.tasks.explain.drise import similarity
from fovea.tasks.explain.occlusion import starts
from fovea.tasks.explain.rise import random_mask

SIZE = 64
REGION = (slice(8, 24), slice(36, 56))  # rows, columns: where the toy model looks
BLACK = (0, 0, 0)


def _image() -> npt.NDArray[np.uint8]:
    return np.full((SIZE, SIZE, 3), 200, np.uint8)


def _activation() -> npt.NDArray[np.float32]:
    """Three 8x8 channels: one lit over the region, one elsewhere, one faint everywhere."""
    maps = np.zeros((3, 8, 8), np.float32)
    maps[0, 1:3, 5:7] = 5.0  # the region, in 8-pixel cells
    maps[1, 5:8, 0:3] = 6.0
    maps[2] += 0.5
    return maps


def _score(pixels: npt.NDArray[np.uint8]) -> float:
    """A model that sees only the region: its brightness there."""
    return float(pixels[REGION].mean() / 255)


def _swept(
    sweep: Sweep, score: Callable[[npt.NDArray[np.uint8]], float]
) -> npt.NDArray[np.float32]:
    scores = np.array([score(sweep.perturb(i)) for i in range(sweep.count)], np.float32)
    return sweep.combine(scores)


@pytest.mark.parametrize(
    ("method", "params", "count"),
    [
        ("scorecam", ExplainParams(channels=3), 3),
        ("rise", ExplainParams(masks=200, grid=4), 200),
        ("occlusion", ExplainParams(window=16, stride=8), 49),
        ("drise", ExplainParams(masks=200, grid=4), 200),
    ],
)
def test_each_method_finds_where_the_model_looks(
    method: Method, params: ExplainParams, count: int
) -> None:
    base = Base(_image(), BLACK, _score(_image()), _activation())
    sweep = METHODS[method].sweep(base, params)
    assert sweep.count == count
    heat = _swept(sweep, _score)
    assert heat.shape == (SIZE, SIZE)
    assert heat.dtype == np.float32
    assert heat.min() == 0.0
    assert heat.max() == 1.0
    row, col = np.unravel_index(int(heat.argmax()), heat.shape)
    assert REGION[0].start <= row < REGION[0].stop
    assert REGION[1].start <= col < REGION[1].stop
    inside = np.zeros(heat.shape, bool)
    inside[REGION] = True
    assert heat[inside].mean() > 2 * heat[~inside].mean()


def test_scorecam_scores_the_most_active_channels_only() -> None:
    base = Base(_image(), BLACK, 1.0, _activation())
    sweep = METHODS["scorecam"].sweep(base, ExplainParams(channels=1))
    assert sweep.count == 1
    kept = sweep.perturb(0)  # channel 1 (mean 0.84) beats channel 0 (0.31) and 2 (0.5)
    assert kept[60, 4].tolist() == [200, 200, 200]  # its bright corner is kept
    assert kept[16, 44].tolist() == [0, 0, 0]  # the region is blanked
    more = METHODS["scorecam"].sweep(base, ExplainParams(channels=4096))
    assert more.count == 3  # no more than the activation has


def test_scorecam_needs_an_activation() -> None:
    with pytest.raises(ValueError, match="activation"):
        METHODS["scorecam"].sweep(Base(_image(), BLACK, 1.0), ExplainParams())


def test_explainers_name_their_task_and_needs() -> None:
    assert {name: e.task for name, e in METHODS.items()} == {
        "scorecam": "classify",
        "rise": "classify",
        "occlusion": "classify",
        "drise": "detect",
    }
    assert [name for name, e in METHODS.items() if e.needs_activation] == ["scorecam"]


def test_equal_scores_give_a_flat_map() -> None:
    base = Base(_image(), BLACK, 0.5, _activation())
    for method in ("rise", "occlusion"):
        sweep = METHODS[method].sweep(base, ExplainParams(masks=16))
        flat = sweep.combine(np.full(sweep.count, 0.5, np.float32))
        assert not flat.any(), method


def test_occlusion_blanks_one_square_and_ignores_rises() -> None:
    base = Base(_image(), (1, 2, 3), 0.5)
    sweep = METHODS["occlusion"].sweep(base, ExplainParams(window=32, stride=32))
    assert sweep.count == 4
    second = sweep.perturb(1)  # row 0, column 32
    assert second[0, 32].tolist() == [1, 2, 3]
    assert second[0, 31].tolist() == [200, 200, 200]
    heat = sweep.combine(np.array([0.9, 0.1, 0.9, 0.9], np.float32))  # only square 1 hurts
    assert heat[:32, 32:].min() == 1.0
    assert not heat[32:].any()


@pytest.mark.parametrize(
    ("length", "window", "stride", "expected"),
    [
        (260, 64, 32, [0, 32, 64, 96, 128, 160, 192, 196]),
        (100, 50, 50, [0, 50]),
        (100, 40, 30, [0, 30, 60]),
        (10, 20, 5, [0]),
        (1, 4, 2, [0]),
    ],
)
def test_occlusion_squares_cover_each_side(
    length: int, window: int, stride: int, expected: list[int]
) -> None:
    assert starts(length, window, stride) == expected


def test_rise_masks_are_reproducible_and_keep_about_the_share_asked() -> None:
    first = random_mask(3, (40, 50), grid=5, keep=0.5, seed=9)
    assert first.shape == (40, 50)
    assert np.array_equal(first, random_mask(3, (40, 50), grid=5, keep=0.5, seed=9))
    assert not np.array_equal(first, random_mask(4, (40, 50), grid=5, keep=0.5, seed=9))
    assert not np.array_equal(first, random_mask(3, (40, 50), grid=5, keep=0.5, seed=10))
    assert 0.0 <= first.min() <= first.max() <= 1.0
    shares = [random_mask(i, (40, 50), 5, 0.25, 0).mean() for i in range(200)]
    assert np.mean(shares) == pytest.approx(0.25, abs=0.04)


def test_rise_perturbs_by_blending_with_the_fill() -> None:
    base = Base(_image(), (10, 20, 30), 1.0)
    params = ExplainParams(masks=8, seed=4)
    sweep = METHODS["rise"].sweep(base, params)
    mask = random_mask(2, (SIZE, SIZE), params.grid, params.keep, params.seed)
    expected = blend(base.pixels, mask, base.fill)
    assert np.array_equal(sweep.perturb(2), expected)


def test_drise_similarity_is_the_best_iou_times_score_of_the_same_class() -> None:
    target = np.array([0, 0, 10, 10], np.float32)
    dets = Detections.build(
        [[0, 0, 10, 10], [0, 0, 10, 20], [0, 0, 10, 10]], [0.5, 0.9, 0.99], [1, 1, 2]
    )
    assert similarity(dets, target, 1) == pytest.approx(0.5)  # max(1 x 0.5, 0.5 x 0.9)
    assert similarity(dets, target, 2) == pytest.approx(0.99)
    assert similarity(dets, target, 3) == 0.0
    assert similarity(Detections.empty(), target, 1) == 0.0


def test_normalised_scales_to_0_1_and_flattens_what_cannot_be() -> None:
    assert normalised(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert normalised(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]
    assert normalised(np.array([1.0, np.nan])).tolist() == [0.0, 0.0]
    assert normalised(np.zeros((0, 3))).shape == (0, 3)


def test_upsampled_and_blend() -> None:
    big = upsampled(np.array([[0.0, 1.0]], np.float32), (4, 2))
    assert big.shape == (2, 4)
    assert big[:, 0].tolist() == [0.0, 0.0]
    assert big[:, -1].tolist() == [1.0, 1.0]
    pixels = np.full((1, 2, 3), 100, np.uint8)
    mixed = blend(pixels, np.array([[1.0, 0.25]], np.float32), (0, 0, 200))
    assert mixed.tolist() == [[[100, 100, 100], [25, 25, 175]]]
