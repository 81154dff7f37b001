"""RISE (Petsiuk et al., BMVC 2018, arXiv:1806.07421): `masks` random masks, each a `grid` x
`grid` pattern of kept cells (each kept with probability `keep`), stretched bilinearly and
shifted by a random fraction of a cell; a pixel's heat is the sum of the masks' scores, each
weighted by how much that mask keeps the pixel (the paper's Monte Carlo estimate).
"""

from __future__ import annotations

import math

import numpy as np

from fovea.core import ExplainParams
from fovea.tasks.explain._base import (
    Base,
    Explainer,
    Map,
    Pixels,
    Scores,
    Sweep,
    blend,
    normalised,
    upsampled,
)


def random_mask(index: int, shape_hw: tuple[int, int], grid: int, keep: float, seed: int) -> Map:
    """Mask `index` of the series `seed`: the same arguments always draw the same mask."""
    rng = np.random.default_rng([seed, index])
    height, width = shape_hw
    cell_h, cell_w = math.ceil(height / grid), math.ceil(width / grid)
    # One cell more than the grid, so that a shift of up to a cell never uncovers an edge.
    cells = (rng.random((grid + 1, grid + 1)) < keep).astype(np.float32)
    stretched = upsampled(cells, ((grid + 1) * cell_w, (grid + 1) * cell_h))
    dy, dx = int(rng.integers(0, cell_h)), int(rng.integers(0, cell_w))
    return stretched[dy : dy + height, dx : dx + width]


def sweep(base: Base, params: ExplainParams) -> Sweep:
    shape = base.shape_hw

    def mask(i: int) -> Map:
        return random_mask(i, shape, params.grid, params.keep, params.seed)

    def perturb(i: int) -> Pixels:
        return blend(base.pixels, mask(i), base.fill)

    def combine(scores: Scores) -> Map:
        # The paper's sum of score x mask, less the mean score x mask: the same map in
        # expectation, without the noise of how often each pixel happened to be kept (so equal
        # scores give a flat map). Its division by N x keep is a constant, which normalising
        # removes.
        weighted = np.zeros(shape, np.float32)
        for i, score in enumerate((scores - scores.mean()).tolist()):
            weighted += score * mask(i)
        return normalised(weighted)

    return Sweep(params.masks, perturb, combine)


EXPLAINER = Explainer("classify", sweep)
