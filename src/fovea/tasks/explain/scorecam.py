"""Score-CAM (Wang et al., CVPR 2020 workshops, arXiv:1910.01279), gradient-free: each of the
`channels` most active maps of a convolutional activation (C, h, w), stretched over the input and
scaled to 0..1, keeps the image where it is high; the target's score on that image weighs it.
"""

from __future__ import annotations

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


def sweep(base: Base, params: ExplainParams) -> Sweep:
    if base.activation is None:
        raise ValueError("scorecam needs the activation of the unperturbed run")
    activation = base.activation
    # Without gradients nothing says which channels matter for the target; the most active ones
    # carry the most of what the classifier pools (EfficientNet-Lite: mean over cells, then fc).
    means = activation.reshape(len(activation), -1).mean(axis=1)
    chosen = np.argsort(-means, kind="stable")[: params.channels]
    height, width = base.shape_hw

    def mask(i: int) -> Map:
        return normalised(upsampled(activation[chosen[i]], (width, height)))

    def perturb(i: int) -> Pixels:
        return blend(base.pixels, mask(i), base.fill)

    def combine(scores: Scores) -> Map:
        cam = np.zeros((height, width), np.float32)
        for i, score in enumerate(scores.tolist()):
            cam += score * mask(i)
        return normalised(np.maximum(cam, 0.0))

    return Sweep(len(chosen), perturb, combine)


EXPLAINER = Explainer("classify", sweep, needs_activation=True)
