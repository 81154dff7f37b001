"""The model repository: `model.toml` specs, the folder scan and load, and served model versions."""

from fovea.models._pipeline import PipelineModel
from fovea.models._repository import (
    BUNDLED,
    ModelEntry,
    ReloadReport,
    Repository,
    Servable,
    Status,
)
from fovea.models._served import ACTIVATION, Prediction, Prepared, ServedModel
from fovea.models._spec import AnySpec, InputSpec, ModelSpec, PipelineModelSpec, load_spec

__all__ = [
    "ACTIVATION",
    "BUNDLED",
    "AnySpec",
    "InputSpec",
    "ModelEntry",
    "ModelSpec",
    "PipelineModel",
    "PipelineModelSpec",
    "Prediction",
    "Prepared",
    "ReloadReport",
    "Repository",
    "Servable",
    "ServedModel",
    "Status",
    "load_spec",
]
