"""The contract of an explanation method: perturbed copies of one image as the model sees it
(RGB uint8 (H, W, 3), the model input's size), and how their scores combine into a heatmap
(H, W) float32 in 0..1 over that input. Pure numpy and Pillow; the serving layer runs the copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import ExplainParams

Pixels = npt.NDArray[np.uint8]
Map = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class Base:
    """What a method starts from: the image in model space, the RGB `fill` that blanks a region
    (the pixel the model reads as zero), the unperturbed score of what is explained, and the
    convolutional activation (C, h, w) of that run when the model names one."""

    pixels: Pixels
    fill: tuple[int, int, int]
    score: float
    activation: npt.NDArray[np.float32] | None = None

    @property
    def shape_hw(self) -> tuple[int, int]:
        height, width = self.pixels.shape[:2]
        return height, width


@dataclass(frozen=True)
class Sweep:
    """`count` perturbed images, made one at a time by `perturb(i)` (so a sweep of thousands never
    sits in memory), and `combine(scores)`: their scores, in order, -> the heatmap."""

    count: int
    perturb: Callable[[int], Pixels]
    combine: Callable[[Scores], Map]


@dataclass(frozen=True)
class Explainer:
    """One method: the task it explains, whether it needs an activation output, its sweep."""

    task: str
    sweep: Callable[[Base, ExplainParams], Sweep]
    needs_activation: bool = False


def normalised(values: npt.NDArray[np.floating]) -> Map:
    """Min-max scaled to 0..1; a flat map (nothing stands out) is all zeros."""
    if not values.size:
        return np.zeros(values.shape, np.float32)
    low, high = float(values.min()), float(values.max())
    if not np.isfinite(high - low) or high - low <= 1e-12:
        return np.zeros(values.shape, np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def upsampled(map_hw: npt.NDArray[np.floating], size_wh: tuple[int, int]) -> Map:
    """A small map stretched bilinearly over `size_wh`, cell centres on pixel centres."""
    source = Image.fromarray(np.ascontiguousarray(map_hw, np.float32))
    return np.asarray(source.resize(size_wh, Image.Resampling.BILINEAR), np.float32)


def blend(pixels: Pixels, keep_hw: Map, fill: tuple[int, int, int]) -> Pixels:
    """`pixels` where `keep_hw` is 1, `fill` where it is 0, mixed in between."""
    keep = keep_hw[..., None]
    mixed = pixels * keep + np.asarray(fill, np.float32) * (1.0 - keep)
    blended: Pixels = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return blended
