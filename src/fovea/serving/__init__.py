"""Serving: admission (with priorities), image sources, URL fetching, batching policy and pipeline
execution, composed by `Service`, which the API, the CLI and background workloads all call."""

from fovea.serving._admission import Admission, Priority, Ticket
from fovea.serving._batching import Batchers, batch_size
from fovea.serving._explain import Explanation, explain, methods_for
from fovea.serving._fetch import FetchPolicy, fetch
from fovea.serving._pipeline import Pipeline
from fovea.serving._reload import Reloader
from fovea.serving._service import ItemOutcome, Observer, Service
from fovea.serving._sources import (
    Base64,
    Encoded,
    Frame,
    ImageInput,
    Local,
    Source,
    Url,
    decode_base64,
    image_of,
)

__all__ = [
    "Admission",
    "Base64",
    "Batchers",
    "Encoded",
    "Explanation",
    "FetchPolicy",
    "Frame",
    "ImageInput",
    "ItemOutcome",
    "Local",
    "Observer",
    "Pipeline",
    "Priority",
    "Reloader",
    "Service",
    "Source",
    "Ticket",
    "Url",
    "batch_size",
    "decode_base64",
    "explain",
    "fetch",
    "image_of",
    "methods_for",
]
