"""Reloading the model repository without a restart."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fovea.serving import Reloader
from fovea.wire import ReloadResult

router = APIRouter(prefix="/v1/repository", tags=["models"])


@router.post(
    "/reload",
    summary="Load new models, unload removed ones, swap changed ones",
    description="Reads the repository folder again. New models load; removed ones unload once "
    "their requests in flight finish; a changed model loads beside the old one and replaces it "
    "at once; one that fails to load leaves its old version serving, and is listed under "
    "`failed` with the reason. Models that had failed are tried again.",
)
async def reload(request: Request) -> ReloadResult:
    reloader: Reloader = request.app.state.reloader
    report = await reloader.reload()
    return ReloadResult(
        loaded=report.loaded,
        reloaded=report.reloaded,
        unloaded=report.unloaded,
        failed=report.failed,
    )
