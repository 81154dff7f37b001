"""The decoder contract: a pure function (one image's outputs by role, DecodeContext) -> a result
in model-input coordinates. Mapping back to image pixels is done once, by `Geometry.to_image`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fovea.core import Result

Outputs = Mapping[str, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class DecodeContext:
    """Everything a decoder needs besides the tensors: the model's settings with the request's
    parameters already applied."""

    input_wh: tuple[int, int]
    labels: tuple[str, ...] = ()  # as reported (after class_map)
    source_classes: int | None = None  # classes the graph outputs, when the model has labels
    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 300
    top_k: int = 5
    allowed: frozenset[int] | None = None  # reported classes to keep; None keeps all
    remap: npt.NDArray[np.int64] | None = None  # source class -> reported class, -1 drops it
    class_offset: int = 0
    mask_threshold: float = 0.5
    output_layout: str = "NCHW"


@dataclass(frozen=True)
class Decoder:
    decode: Callable[[Outputs, DecodeContext], Result]
    roles: tuple[str, ...] = ("output",)  # the graph outputs it reads, by role


@dataclass(frozen=True)
class Task:
    name: str
    decoders: Mapping[str, Decoder]
