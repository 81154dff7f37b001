"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from fovea.api.deps import RepositoryDep
from fovea.wire import Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Every enabled model is loaded, and the server is not shutting down",
    responses={
        503: {
            "model": Readiness,
            "description": "A model is loading or failed, or the server is draining.",
        }
    },
)
async def ready(request: Request, repository: RepositoryDep) -> JSONResponse:
    models = {name: entry.status for name, entry in repository.entries.items()}
    draining = request.app.state.serving.draining  # SIGTERM: leave the load balancer first
    is_ready = repository.ready and not draining
    body = {"ready": is_ready, "draining": draining, "models": models}
    return JSONResponse(body, 200 if is_ready else 503)
