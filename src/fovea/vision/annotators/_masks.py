"""Each non-background class's colour blended over the image; class 0 stays clear."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fovea.core import Mask
from fovea.vision.annotators._style import palette


@dataclass(frozen=True)
class MaskAnnotator:
    opacity: float = 0.5

    def annotate(self, scene: Image.Image, result: Mask) -> Image.Image:
        base = scene.convert("RGB")
        class_map = result.class_map_hw
        if class_map.shape != (base.height, base.width):  # a mask drawn on a resized view
            resized = Image.fromarray(class_map).resize(base.size, Image.Resampling.NEAREST)
            class_map = np.asarray(resized)
        colours = Image.fromarray(palette(result.num_classes)[class_map])
        alpha = np.where(class_map > 0, round(255 * self.opacity), 0).astype(np.uint8)
        return Image.composite(colours, base, Image.fromarray(alpha))
