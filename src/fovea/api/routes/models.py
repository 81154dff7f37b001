"""The model repository as a resource."""

from __future__ import annotations

from fastapi import APIRouter

from fovea.api.deps import RepositoryDep
from fovea.errors import ModelNotFound
from fovea.models import ModelEntry, PipelineModelSpec, ServedModel
from fovea.serving import batch_size, methods_for
from fovea.wire import InputInfo, ModelInfo, ModelList, Problem

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", summary="Every model in the repository, failed ones with their reason")
async def list_models(repository: RepositoryDep) -> ModelList:
    return ModelList(models=[model_info(e) for e in repository.entries.values()])


@router.get("/{model}", summary="One model", responses={404: {"model": Problem}})
async def get_model(model: str, repository: RepositoryDep) -> ModelInfo:
    entry = repository.entries.get(model)
    if entry is None:
        raise ModelNotFound(f"no model named {model!r}; try GET /v1/models")
    return model_info(entry)


def model_info(entry: ModelEntry) -> ModelInfo:
    info = ModelInfo(
        name=entry.name,
        status=entry.status,
        error=entry.error,
        versions=entry.versions,
        default_version=entry.default_version,
        load_ms=entry.load_ms,
    )
    spec = entry.spec
    if spec is None:
        return info
    served = next(iter(entry.served.values()), None)
    info.task, info.description = spec.task, spec.description
    if isinstance(spec, PipelineModelSpec):
        info.pipeline = spec.pipeline.model_dump()
        info.labels = list(served.labels) if served else []
        return info
    info.decoder = spec.decoder
    info.labels = list(served.labels if served else spec.reported_labels)
    info.input = InputInfo(
        size=list(spec.input.size),
        resize=spec.input.resize,
        layout=spec.input.layout,
        color=spec.input.color,
        dtype=spec.input.dtype,
        name=spec.input.name,
    )
    info.postprocess = spec.postprocess.model_dump(exclude_none=True)
    info.metadata = dict(spec.metadata)
    if isinstance(served, ServedModel):
        info.dynamic_batch = served.session.fixed_batch is None
        info.max_batch_size = batch_size(served)
        info.providers = served.session.providers
        info.explain_methods = list(methods_for(served))
    return info
