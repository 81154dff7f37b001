"""Fovea: serve image models (detection, classification, segmentation) from an ONNX repository.

The names a user needs: results (Detections, Classes, Mask, Heatmap) and their Geometry, the
request Params and ExplainParams, a model repository and its served models, the clients, and the
error classes.
"""

from fovea.client import APIError, AsyncClient, Client
from fovea.core import Classes, Detections, ExplainParams, Geometry, Heatmap, Mask, Params
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

__version__ = "0.1.0"
_SERVER_SIDE = {"ModelSpec", "Repository", "ServedModel"}  # from fovea.models, on first use


def __getattr__(name: str) -> object:
    # The model runtime loads only when asked for, so `import fovea` in a client or the UI
    # stays light and imports nothing server-side.
    if name in _SERVER_SIDE:
        import fovea.models

        return getattr(fovea.models, name)
    raise AttributeError(f"module 'fovea' has no attribute {name!r}")


__all__ = [
    "APIError",
    "AsyncClient",
    "Classes",
    "Client",
    "Detections",
    "ExplainParams",
    "FoveaError",
    "Geometry",
    "Heatmap",
    "ImageDecodeError",
    "InputError",
    "InvalidParameter",
    "Mask",
    "ModelNotFound",
    "ModelSpec",
    "ModelUnavailable",
    "Overloaded",
    "Params",
    "PayloadTooLarge",
    "Repository",
    "ServedModel",
    "TooManyPixels",
    "URLFetchFailed",
    "URLRefused",
    "__version__",
]
