"""The model repository: `model.toml` specs, the folder scan and load, and served model versions."""

from fovea.models._repository import BUNDLED, ModelEntry, Repository, Status
from fovea.models._served import ACTIVATION, Prediction, Prepared, ServedModel
from fovea.models._spec import InputSpec, ModelSpec, load_spec

__all__ = [
    "ACTIVATION",
    "BUNDLED",
    "InputSpec",
    "ModelEntry",
    "ModelSpec",
    "Prediction",
    "Prepared",
    "Repository",
    "ServedModel",
    "Status",
    "load_spec",
]
