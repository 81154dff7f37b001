"""Core types every layer shares: results, the geometry that maps them back, and parameters.
Plain numpy, Pillow and pydantic: no server, model runtime or web imports.
"""

from fovea.core._explain import (
    CLASSIFIER_METHODS,
    DETECTOR_METHODS,
    Colormap,
    ExplainParams,
    ExplainQuery,
    Method,
)
from fovea.core._geometry import Geometry
from fovea.core._params import Params, QueryParams
from fovea.core._results import Classes, Detections, Heatmap, Mask, Result, labels_of

__all__ = [
    "CLASSIFIER_METHODS",
    "DETECTOR_METHODS",
    "Classes",
    "Colormap",
    "Detections",
    "ExplainParams",
    "ExplainQuery",
    "Geometry",
    "Heatmap",
    "Mask",
    "Method",
    "Params",
    "QueryParams",
    "Result",
    "labels_of",
]
