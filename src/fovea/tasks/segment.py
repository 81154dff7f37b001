"""Segmenter output -> Mask in original-image pixels.

`argmax`: logits (C, H, W) or (H, W, C), DeepLabV3 style; class maps are resized nearest.
`sigmoid` (logits) and `probability` (already 0..1): one channel, foreground above a threshold;
the probability map is resized bilinearly before thresholding, so edges stay smooth.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.results import Mask
from fovea.vision.prep import Geometry


def to_hw(output: npt.NDArray[np.float32], layout: str) -> npt.NDArray[np.float32]:
    """One image's output as (C, H, W); a 2-D output is one channel."""
    array = np.asarray(output, np.float32)
    if array.ndim == 2:
        return array[None]
    if array.ndim != 3:
        raise ValueError(f"segmentation output must be (C, H, W) or (H, W, C), got {array.shape}")
    return array if layout == "NCHW" else array.transpose(2, 0, 1)


def decode(
    output: npt.NDArray[np.float32], kind: str, layout: str, geometry: Geometry, threshold: float
) -> Mask:
    chw = to_hw(output, layout)
    if kind == "argmax":
        class_map = chw.argmax(axis=0).astype(np.float32)
        resized = geometry.to_image_map(class_map, Image.Resampling.NEAREST)
        return Mask(resized.astype(np.uint8), num_classes=max(chw.shape[0], 2))
    if chw.shape[0] != 1:
        raise ValueError(f"{kind} segmentation needs one channel, got {chw.shape[0]}")
    probability = chw[0]
    if kind == "sigmoid":
        probability = (1.0 / (1.0 + np.exp(-probability))).astype(np.float32)
    resized = geometry.to_image_map(probability, Image.Resampling.BILINEAR)
    return Mask((resized > threshold).astype(np.uint8), num_classes=2)
