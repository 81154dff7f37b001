"""A heatmap (values 0..1) coloured by a perceptual colormap and blended over the image."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Heatmap

# matplotlib's inferno and viridis (CC0, by Nathaniel J. Smith, Stefan van der Walt and Eric
# Firing) sampled at 17 even steps from matplotlib 3.11.2; linear interpolation between them is
# within 7 of 255 levels of the 256-entry originals, with no matplotlib in the base install.
_STOPS = {
    "inferno": [
        (0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110), (113, 25, 110),
        (138, 34, 106), (163, 44, 97), (188, 55, 84), (210, 70, 68), (228, 90, 49),
        (241, 115, 29), (249, 142, 9), (252, 172, 17), (249, 203, 53), (242, 234, 105),
        (252, 255, 164),
    ],
    "viridis": [
        (68, 1, 84), (72, 24, 106), (71, 45, 123), (66, 64, 134), (59, 82, 139), (51, 99, 141),
        (44, 114, 142), (38, 130, 142), (33, 145, 140), (31, 160, 136), (40, 174, 128),
        (63, 188, 115), (94, 201, 98), (132, 212, 75), (173, 220, 48), (216, 226, 25),
        (253, 231, 37),
    ],
}  # fmt: skip
COLORMAPS = tuple(_STOPS)


@functools.cache
def colormap(name: str) -> npt.NDArray[np.uint8]:
    """(256, 3) RGB colours, low to high (shared: do not write to it)."""
    if name not in _STOPS:
        raise ValueError(f"colormap {name!r} is not one of {list(COLORMAPS)}")
    stops = np.asarray(_STOPS[name], np.float64)
    steps, at = np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(stops))
    table = [np.interp(steps, at, stops[:, channel]) for channel in range(3)]
    return np.rint(np.stack(table, axis=1)).astype(np.uint8)


@dataclass(frozen=True)
class HeatmapAnnotator:
    opacity: float = 0.5
    colormap: str = "inferno"

    def __post_init__(self) -> None:
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be within 0..1, got {self.opacity}")
        colormap(self.colormap)  # an unknown name fails here, not on the first image

    def annotate(self, scene: Image.Image, result: Heatmap) -> Image.Image:
        base = scene.convert("RGB")
        values = result.values_hw
        if values.shape != (base.height, base.width):  # a heatmap drawn on a resized view
            source = Image.fromarray(np.ascontiguousarray(values, np.float32))
            values = np.asarray(source.resize(base.size, Image.Resampling.BILINEAR), np.float32)
        levels = np.clip(np.rint(np.nan_to_num(values) * 255.0), 0, 255).astype(np.uint8)
        colours = Image.fromarray(colormap(self.colormap)[levels])
        return Image.blend(base, colours, self.opacity)
