"""Fovea: serve image models (detection, classification, segmentation) from an ONNX repository."""

from fovea.client import APIError, AsyncClient, Client
from fovea.errors import (
    FoveaError,
    ImageDecodeError,
    InputError,
    InvalidParameter,
    ModelNotFound,
    ModelUnavailable,
    Overloaded,
    PayloadTooLarge,
    TooManyPixels,
    URLFetchFailed,
    URLRefused,
)
from fovea.results import Classes, Detections, Mask
from fovea.spec import ModelSpec
from fovea.vision.prep import Geometry

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "Classes",
    "Client",
    "Detections",
    "FoveaError",
    "Geometry",
    "ImageDecodeError",
    "InputError",
    "InvalidParameter",
    "Mask",
    "ModelNotFound",
    "ModelSpec",
    "ModelUnavailable",
    "Overloaded",
    "PayloadTooLarge",
    "TooManyPixels",
    "URLFetchFailed",
    "URLRefused",
    "__version__",
]
