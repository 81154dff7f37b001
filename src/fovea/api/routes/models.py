"""The model repository as a resource."""

from __future__ import annotations

from fastapi import APIRouter

from fovea.api.deps import RepositoryDep
from fovea.api.schemas import ModelInfo, ModelList, Problem, model_info
from fovea.errors import ModelNotFound

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
