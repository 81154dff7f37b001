"""Segmenter output -> Mask over the model input (at the output's resolution).

`argmax`: logits (C, H, W) or (H, W, C), DeepLabV3 style; mapped back nearest.
`sigmoid` (logits) and `probability` (already 0..1): one channel, foreground above a threshold;
the mask keeps the probability, so mapping back resizes it bilinearly before thresholding and
edges stay smooth.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from fovea.core import Mask
from fovea.tasks._base import DecodeContext, Decoder, Outputs, Task

KINDS = ("argmax", "sigmoid", "probability")


def to_chw(output: npt.NDArray[np.float32], layout: str) -> npt.NDArray[np.float32]:
    """One image's output as (C, H, W); a 2-D output is one channel."""
    array = np.asarray(output, np.float32)
    if array.ndim == 2:
        return array[None]
    if array.ndim != 3:
        raise ValueError(f"segmentation output must be (C, H, W) or (H, W, C), got {array.shape}")
    return array if layout == "NCHW" else array.transpose(2, 0, 1)


def decode(outputs: Outputs, context: DecodeContext, kind: str) -> Mask:
    chw = to_chw(outputs["output"], context.output_layout)
    if kind == "argmax":
        # Every channel gets a name, so the mask's class count is the graph's.
        labels = context.labels + tuple(map(str, range(len(context.labels), chw.shape[0])))
        return Mask(chw.argmax(axis=0).astype(np.uint8), labels)
    if chw.shape[0] != 1:
        raise ValueError(f"{kind} segmentation needs one channel, got {chw.shape[0]}")
    probability = chw[0]
    if kind == "sigmoid":
        probability = (1.0 / (1.0 + np.exp(-probability))).astype(np.float32)
    return Mask.from_probability(probability, context.mask_threshold, context.labels)


TASK = Task("segment", {kind: Decoder(functools.partial(decode, kind=kind)) for kind in KINDS})
