"""KServe V2 beside the API for the app's lifetime: the engine both front ends share (on
`app.state.kserve`), and the gRPC server on FOVEA_GRPC_PORT when it is set."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fovea.config import Settings
from fovea.errors import ModelConfigError
from fovea.protocols.kserve_v2._engine import Engine

log = logging.getLogger("fovea.kserve")


@asynccontextmanager
async def serving(
    app: FastAPI, settings: Settings, draining: Callable[[], bool]
) -> AsyncIterator[Engine]:
    state = app.state
    engine = Engine(
        state.repository, state.service, state.reloader, settings.max_images_per_request, draining
    )
    state.kserve = engine
    if settings.grpc_port is None:
        yield engine
        return
    try:
        from fovea.protocols.kserve_v2.grpc import GrpcServer
    except ImportError as exc:  # pragma: no cover - the grpc extra is in dev
        raise ModelConfigError("FOVEA_GRPC_PORT needs: pip install 'fovea-serve[grpc]'") from exc
    server = GrpcServer(engine, state.guard, state.metrics, settings.max_request_bytes)
    port = await server.start(settings.host, settings.grpc_port)
    state.grpc_port = port
    log.info("KServe V2 gRPC on %s:%d", settings.host, port)
    try:
        yield engine
    finally:
        await server.stop(settings.shutdown_grace_s)
