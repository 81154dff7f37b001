"""The application builder a Serve config file names (`import_path: fovea.engines.ray.app:build`,
deploy/ray/serve.yaml) for `serve deploy` / `serve run`: `build(args)` takes the file's `args`
(repository and layout, as `fovea serve --engine ray` takes them); every other setting comes
from FOVEA_ environment variables (the application's `runtime_env.env_vars`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from ray import serve

from fovea.config import Settings
from fovea.engines.ray.deployments import application
from fovea.engines.ray.run import RayOptions, parse_autoscale


class BuildArgs(BaseModel):
    """The `args` of the config file's application; the same as the command's options."""

    model_config = ConfigDict(extra="forbid")

    model_repository: str | None = Field(None, description="Default: FOVEA_MODEL_REPOSITORY.")
    replicas: int = Field(1, ge=1)
    autoscale: str | None = Field(None, description="MIN,MAX replicas per model.")
    replica_cpus: float = Field(1.0, ge=0.0)
    models: list[str] = Field(default_factory=list)
    workers: int | None = Field(None, ge=1, description="Inference threads per replica.")
    ingress_replicas: int = Field(1, ge=1)


def build(args: dict[str, Any]) -> serve.Application:
    """The Fovea application from a config file's `args`."""
    parsed = BuildArgs.model_validate(args)
    overrides: dict[str, Any] = {
        "model_repository": parsed.model_repository,
        "workers": parsed.workers,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    options = RayOptions(
        replicas=parsed.replicas,
        autoscale=parse_autoscale(parsed.autoscale),
        replica_cpus=parsed.replica_cpus,
        models=tuple(parsed.models),
        ingress_replicas=parsed.ingress_replicas,
    )
    return application(settings, options)
