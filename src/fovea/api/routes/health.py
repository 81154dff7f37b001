"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

from fovea.api.deps import RepositoryDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/ready",
    summary="Every enabled model is loaded",
    responses={503: {"description": "A model is still loading or failed to load."}},
)
async def ready(repository: RepositoryDep) -> JSONResponse:
    models = {name: entry.status for name, entry in repository.entries.items()}
    status = 200 if repository.ready else 503
    return JSONResponse({"ready": repository.ready, "models": models}, status)
