"""HeatmapAnnotator: a perceptual colormap blended at the asked opacity, at any view size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fovea.core import Heatmap
from fovea.vision.annotators import (
    COLORMAPS,
    DEFAULT_CHAINS,
    HeatmapAnnotator,
    annotate,
    colormap,
)

GREY = (128, 128, 128)


def _ramp(width: int = 256, height: int = 4) -> Heatmap:
    values = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return Heatmap(values, 285, "Egyptian cat", 0.74)


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormaps_run_dark_to_light_through_256_colours(name: str) -> None:
    table = colormap(name)
    assert table.shape == (256, 3)
    assert table.dtype == np.uint8
    brightness = table.astype(int).sum(axis=1)
    assert brightness[-1] > brightness[0] + 200
    assert len({tuple(c) for c in table.tolist()}) > 200


def test_inferno_ends_match_matplotlib() -> None:
    table = colormap("inferno")
    assert table[0].tolist() == [0, 0, 4]
    assert table[255].tolist() == [252, 255, 164]


def test_full_opacity_shows_the_colormap_and_none_shows_the_image() -> None:
    scene = Image.new("RGB", (256, 4), GREY)
    solid = np.asarray(HeatmapAnnotator(opacity=1.0, colormap="viridis").annotate(scene, _ramp()))
    assert solid[0, 0].tolist() == colormap("viridis")[0].tolist()
    assert solid[0, 255].tolist() == colormap("viridis")[255].tolist()
    clear = HeatmapAnnotator(opacity=0.0).annotate(scene, _ramp())
    assert clear.tobytes() == scene.tobytes()
    half = np.asarray(HeatmapAnnotator(opacity=0.5).annotate(scene, _ramp()), int)
    expected = (np.array(GREY) + colormap("inferno")[255].astype(int)) / 2
    assert np.abs(half[0, 255] - expected).max() <= 1


def test_a_heatmap_is_stretched_over_a_resized_view_and_the_scene_is_untouched() -> None:
    scene = Image.new("RGB", (64, 32), GREY)
    before = scene.tobytes()
    out = HeatmapAnnotator(opacity=1.0).annotate(scene, _ramp(8, 2))
    assert out.size == (64, 32)
    assert scene.tobytes() == before
    pixels = np.asarray(out).astype(int).sum(axis=2)
    assert pixels[16, 63] > pixels[16, 0]


def test_bad_settings_fail_when_made() -> None:
    with pytest.raises(ValueError, match="opacity"):
        HeatmapAnnotator(opacity=1.2)
    with pytest.raises(ValueError, match="colormap 'jet'"):
        HeatmapAnnotator(colormap="jet")


def test_heatmaps_draw_by_default() -> None:
    assert isinstance(DEFAULT_CHAINS[Heatmap][0], HeatmapAnnotator)
    scene = Image.new("RGB", (256, 4), GREY)
    assert annotate(scene, _ramp()).tobytes() != scene.tobytes()
