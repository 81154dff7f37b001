"""Annotators draw results on images and chain: `LabelAnnotator().annotate(BoxAnnotator()
.annotate(image, dets), dets)`. `annotate(image, result)` applies the default chain for the
result's type. A new overlay is one module here and one line in `DEFAULT_CHAINS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image

from fovea.core import Classes, Detections, Heatmap, Mask
from fovea.vision.annotators._base import Annotator
from fovea.vision.annotators._boxes import BoxAnnotator
from fovea.vision.annotators._captions import CaptionAnnotator
from fovea.vision.annotators._heatmap import COLORMAPS, HeatmapAnnotator, colormap
from fovea.vision.annotators._inspection import STATUS_COLOURS, InspectionAnnotator
from fovea.vision.annotators._keypoints import KeypointAnnotator
from fovea.vision.annotators._labels import LabelAnnotator, label_texts
from fovea.vision.annotators._masks import MaskAnnotator
from fovea.vision.annotators._style import class_colour, palette

DEFAULT_CHAINS: dict[type, tuple[Annotator[Any], ...]] = {
    Detections: (BoxAnnotator(), KeypointAnnotator(), LabelAnnotator()),
    Mask: (MaskAnnotator(),),
    Classes: (CaptionAnnotator(),),
    Heatmap: (HeatmapAnnotator(),),
}


def annotate(
    image: Image.Image,
    result: Detections | Classes | Mask | Heatmap,
    chain: Sequence[Annotator[Any]] | None = None,
) -> Image.Image:
    """`image` with `result` drawn by `chain` (default: the chain for the result's type)."""
    out = image.convert("RGB")
    for annotator in DEFAULT_CHAINS.get(type(result), ()) if chain is None else chain:
        out = annotator.annotate(out, result)
    return out


__all__ = [
    "COLORMAPS",
    "DEFAULT_CHAINS",
    "STATUS_COLOURS",
    "Annotator",
    "BoxAnnotator",
    "CaptionAnnotator",
    "HeatmapAnnotator",
    "InspectionAnnotator",
    "KeypointAnnotator",
    "LabelAnnotator",
    "MaskAnnotator",
    "annotate",
    "class_colour",
    "colormap",
    "label_texts",
    "palette",
]
