"""The JSON contract: request and response schemas and their conversion from and to Fovea's
result types. Shared by the API, the client, the CLI and the UI; imports no server module."""

from fovea.core import Params, QueryParams
from fovea.wire._convert import detections_of, mask_of, output_of, result_of
from fovea.wire._jobs import JobInfo, JobList, JobRequest, JobSource, JobState
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
    Timing,
)

__all__ = [
    "ClassScore",
    "Detection",
    "InputInfo",
    "InputItem",
    "JobInfo",
    "JobList",
    "JobRequest",
    "JobSource",
    "JobState",
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
    "Timing",
    "detections_of",
    "mask_of",
    "output_of",
    "result_of",
]
