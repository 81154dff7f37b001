"""Heatmaps on the wire: a grayscale PNG at the image's size that reads back within a level, and
a coarse grid of at most 32 cells a side."""

from __future__ import annotations

import numpy as np
import pytest

from fovea.core import Heatmap
from fovea.wire import ExplainRequest, heatmap_of, heatmap_out


@pytest.mark.parametrize(
    ("size_hw", "grid_hw"),
    [((300, 451), (21, 32)), ((600, 20), (32, 1)), ((1, 1), (1, 1)), ((8, 16), (8, 16))],
)
def test_a_heatmap_travels_at_full_size_with_a_coarse_grid(
    size_hw: tuple[int, int], grid_hw: tuple[int, int]
) -> None:
    values = np.random.default_rng(1).random(size_hw).astype(np.float32)
    out = heatmap_out(Heatmap(values, 3, "cat", 0.5))
    assert (out.height, out.width) == size_hw
    assert np.array(out.grid).shape == grid_hw
    back = heatmap_of(out, 3, "cat", 0.5)
    assert back.values_hw.shape == size_hw
    assert np.abs(back.values_hw - values).max() <= 0.5 / 255 + 1e-6
    assert (back.class_id, back.label, back.score) == (3, "cat", 0.5)


def test_out_of_range_values_are_clipped_not_wrapped() -> None:
    values = np.array([[-1.0, 0.5, 2.0, np.nan]], np.float32)
    back = heatmap_of(heatmap_out(Heatmap(values)))
    assert back.values_hw.tolist() == [[0.0, pytest.approx(128 / 255), 1.0, 0.0]]


def test_an_explain_request_takes_params_and_refuses_strangers() -> None:
    body = ExplainRequest.model_validate({"inputs": [{"url": "https://x/y.jpg"}]})
    assert body.params.given() == {}
    with pytest.raises(ValueError, match="extra"):
        ExplainRequest.model_validate({"inputs": [{"url": "https://x/y.jpg"}], "img": "x"})
