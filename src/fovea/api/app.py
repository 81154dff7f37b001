"""The FastAPI application: `create_app(settings)` builds it; the lifespan loads the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import RedirectResponse

import fovea
from fovea.api import errors
from fovea.api.routes import health, models, predict, problems
from fovea.api.schemas import PredictRequest
from fovea.config import Settings
from fovea.repository import Repository
from fovea.service import PredictService


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    repository = Repository(settings.repository_path, settings.runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repository.scan()
        # Loading builds sessions and runs warm-ups: seconds of CPU, so not on the event loop.
        await anyio.to_thread.run_sync(repository.load_all)
        service = PredictService(
            repository,
            settings.limits,
            settings.fetch_policy,
            settings.workers,
            settings.max_images_per_request,
        )
        app.state.service = service
        async with anyio.create_task_group() as group:
            service.start(group)  # the batchers' lanes live as long as the app
            try:
                yield
            finally:
                await service.aclose()

    app = FastAPI(
        title="Fovea",
        version=fovea.__version__,
        summary="Serve image models: detection, classification and segmentation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.repository = repository
    errors.install(app)
    for router in (health.router, models.router, predict.router, problems.router):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the JSON body of predict, which no route parameter declares."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        body = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components["PredictRequest"] = body
        app.openapi_schema = schema
    return app.openapi_schema
