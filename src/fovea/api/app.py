"""The FastAPI application: `create_app(settings)` builds it; the lifespan loads the models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.responses import RedirectResponse

import fovea
from fovea.api import errors
from fovea.api.metrics import Metrics
from fovea.api.middleware import RequestMiddleware, ServingState
from fovea.api.routes import (
    explain,
    health,
    inspect,
    jobs,
    metrics,
    models,
    patterns,
    predict,
    problems,
    video,
)
from fovea.api.routes import repository as repository_routes
from fovea.api.security import Guard, Protected, load_key_hashes
from fovea.config import Settings
from fovea.models import Repository
from fovea.protocols.kserve_v2 import http as kserve_http
from fovea.protocols.kserve_v2.serving import serving as kserve_serving
from fovea.runtime.memory import trim
from fovea.serving import Observer, Reloader, Service
from fovea.wire import (
    Base64ExplainRequest,
    ExplainRequest,
    ExplainResponse,
    JobRequest,
    PredictRequest,
    Problem,
)

ServiceFactory = Callable[[Settings, Observer], Service]


def _local_service(settings: Settings, observer: Observer) -> Service:
    return Service(settings.limits, settings.fetch_policy, settings.workers, observer)


def create_app(
    settings: Settings | None = None,
    state: ServingState | None = None,
    service_factory: ServiceFactory = _local_service,
) -> FastAPI:
    """Build the app; `state` is shared with the server that drains it on SIGTERM.
    `service_factory` makes the `Service` the routes call (Ray's engine passes one that runs
    models in their own deployments)."""
    settings = settings or Settings()
    repository = Repository(settings.repository_path, settings.runtime)
    telemetry = Metrics()
    serving = state or ServingState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repository.scan()
        # Loading builds sessions and runs warm-ups: seconds of CPU, so not on the event loop.
        await anyio.to_thread.run_sync(repository.load_all)
        service = service_factory(settings, telemetry)
        async with service, anyio.create_task_group() as group:
            telemetry.watch(repository, service.admission.in_progress)
            app.state.service = service
            app.state.reloader = reloader = Reloader(repository, service)
            if settings.repository_poll_s > 0:
                group.start_soon(reloader.poll, settings.repository_poll_s)
            group.start_soon(_trim_when_idle, serving)
            async with kserve_serving(app, settings, lambda: serving.draining):
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()  # the idle trimmer would otherwise run forever

    app = FastAPI(
        title="Fovea",
        version=fovea.__version__,
        summary="Serve image models: detection, classification and segmentation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.repository = repository
    app.state.metrics = telemetry
    app.state.serving = serving
    app.state.guard = Guard(
        load_key_hashes(settings.api_keys, settings.api_keys_file), settings.rate_limit_per_minute
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router, dependencies=[] if settings.metrics_public else [Protected])
    routers = (models.router, predict.router, problems.router, repository_routes.router)
    for router in (*routers, jobs.router):
        app.include_router(router, dependencies=[Protected])
    app.include_router(inspect.router, dependencies=[Protected])
    app.include_router(patterns.router, dependencies=[Protected])
    app.include_router(explain.router, dependencies=[Protected])
    # KServe V2 has its own keys and errors: {"error": ...}, per the protocol.
    app.include_router(kserve_http.router)
    app.include_router(video.router)  # keys checked per route: WebSockets take them in the query

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    # Starlette runs the last added middleware first: the request middleware sees everything.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        RequestMiddleware,
        metrics=telemetry,
        state=serving,
        max_body_bytes=settings.max_request_bytes,
        max_discard_bytes=settings.max_discard_bytes,
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


async def _trim_when_idle(serving: ServingState, idle_s: float = 2.0) -> None:
    """Once traffic stops, give the heap back: malloc is tuned to keep it while busy."""
    trimmed, idle_since = True, anyio.current_time()
    while True:
        await anyio.sleep(0.5)
        if serving.in_flight:
            trimmed, idle_since = False, anyio.current_time()
        elif not trimmed and anyio.current_time() - idle_since >= idle_s:
            await anyio.to_thread.run_sync(trim)
            trimmed = True


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the JSON bodies of predict, jobs and explain, which no parameter
    declares."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        bodies = (PredictRequest, JobRequest, ExplainRequest, ExplainResponse, Base64ExplainRequest)
        for request_body in bodies:
            body = request_body.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[request_body.__name__] = body
        components["Problem"] = Problem.model_json_schema()
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            _problem_responses(operation["responses"])
        app.openapi_schema = schema
    return app.openapi_schema


def _problem_responses(responses: dict[str, Any]) -> None:
    """Every error is problem+json (api/errors.py): say so, for any 4xx and 5xx."""
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in [s for s in responses if s[0] in "45"]:
        declared = str(responses[status].get("content", {}))
        if "schemas/Problem" in declared or "HTTPValidationError" in declared or not declared:
            responses[status] = {
                "description": responses[status].get("description", "Problem"),
                "content": problem,
            }

    responses.setdefault("4XX", {"description": "Problem details (RFC 9457)", "content": problem})
    responses.setdefault("5XX", {"description": "Problem details (RFC 9457)", "content": problem})
