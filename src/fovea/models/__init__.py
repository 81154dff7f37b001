"""The model repository: `model.toml` specs, the folder scan and load, and served model versions."""

from fovea.models._repository import BUNDLED, ModelEntry, ReloadReport, Repository, Status
from fovea.models._served import Prediction, Prepared, ServedModel
from fovea.models._spec import InputSpec, ModelSpec, load_spec

__all__ = [
    "BUNDLED",
    "InputSpec",
    "ModelEntry",
    "ModelSpec",
    "Prediction",
    "Prepared",
    "ReloadReport",
    "Repository",
    "ServedModel",
    "Status",
    "load_spec",
]
