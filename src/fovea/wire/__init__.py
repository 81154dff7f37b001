"""The JSON contract: request and response schemas and their conversion from and to Fovea's
result types. Shared by the API, the client, the CLI and the UI; imports no server module."""

from fovea.core import ExplainParams, Params, QueryParams
from fovea.wire._convert import detections_of, mask_of, output_of, result_of
from fovea.wire._explain import (
    Base64ExplainRequest,
    Base64ExplainResponse,
    ExplainRequest,
    ExplainResponse,
    HeatmapOut,
    heatmap_of,
    heatmap_out,
)
from fovea.wire._schemas import (
    ClassScore,
    Detection,
    InputInfo,
    InputItem,
    MaskOut,
    ModelInfo,
    ModelList,
    Output,
    PredictRequest,
    PredictResponse,
    Problem,
    Readiness,
    ReloadResult,
    Timing,
)

__all__ = [
    "Base64ExplainRequest",
    "Base64ExplainResponse",
    "ClassScore",
    "Detection",
    "ExplainParams",
    "ExplainRequest",
    "ExplainResponse",
    "HeatmapOut",
    "InputInfo",
    "InputItem",
    "MaskOut",
    "ModelInfo",
    "ModelList",
    "Output",
    "Params",
    "PredictRequest",
    "PredictResponse",
    "Problem",
    "QueryParams",
    "Readiness",
    "ReloadResult",
    "Timing",
    "detections_of",
    "heatmap_of",
    "heatmap_out",
    "mask_of",
    "output_of",
    "result_of",
]
