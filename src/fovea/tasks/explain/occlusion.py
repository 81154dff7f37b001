"""Occlusion (Zeiler and Fergus, ECCV 2014): a `window`-sided square of the fill colour slides
over the input by `stride` (the last square touches the far edge); a pixel's heat is the mean
drop of the target's score over the squares covering it (a rise counts as nothing).
"""

from __future__ import annotations

import numpy as np

from fovea.core import ExplainParams
from fovea.tasks.explain._base import Base, Explainer, Map, Pixels, Scores, Sweep, normalised


def starts(length: int, window: int, stride: int) -> list[int]:
    """Where squares start along one side so that they cover all of it."""
    if window >= length:
        return [0]
    found = list(range(0, length - window + 1, stride))
    return found if found[-1] == length - window else [*found, length - window]


def sweep(base: Base, params: ExplainParams) -> Sweep:
    height, width = base.shape_hw
    squares = [
        (y, x)
        for y in starts(height, params.window, params.stride)
        for x in starts(width, params.window, params.stride)
    ]
    side = params.window

    def perturb(i: int) -> Pixels:
        y, x = squares[i]
        pixels = base.pixels.copy()
        pixels[y : y + side, x : x + side] = base.fill
        return pixels

    def combine(scores: Scores) -> Map:
        drop, cover = np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)
        for (y, x), score in zip(squares, scores.tolist(), strict=True):
            drop[y : y + side, x : x + side] += base.score - score
            cover[y : y + side, x : x + side] += 1.0
        return normalised(np.maximum(drop / np.maximum(cover, 1.0), 0.0))

    return Sweep(len(squares), perturb, combine)


EXPLAINER = Explainer("classify", sweep)
