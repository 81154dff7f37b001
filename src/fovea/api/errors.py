"""The one place that writes RFC 9457 problem+json: Fovea's errors and request validation."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from fovea.errors import FoveaError, InvalidParameter

log = logging.getLogger("fovea.api")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"


def problem_body(error: FoveaError, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + error.type,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        **extra,
    }


def problem_response(error: FoveaError, **extra: Any) -> JSONResponse:
    headers = {}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return JSONResponse(
        problem_body(error, **extra), error.status, headers=headers, media_type=PROBLEM_JSON
    )


async def _fovea_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FoveaError)
    count(request, exc)
    return problem_response(exc, instance=request.url.path)


def count(request: Request, error: FoveaError) -> None:
    """Count an answered error by its problem type."""
    request.app.state.metrics.errors.labels(error.type).inc()


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
    error = InvalidParameter(detail)
    count(request, error)
    return problem_response(error, instance=request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    body = {
        "type": PROBLEM_BASE + slug,
        "title": str(exc.detail),
        "status": exc.status_code,
        "detail": f"{request.method} {request.url.path}: {exc.detail}",
    }
    return JSONResponse(body, exc.status_code, headers=exc.headers, media_type=PROBLEM_JSON)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {
        "type": PROBLEM_BASE + "internal",
        "title": "Internal error",
        "status": 500,
        "detail": "the server hit an unexpected error; it has been logged",
    }
    return JSONResponse(body, 500, media_type=PROBLEM_JSON)


def install(app: FastAPI) -> None:
    app.add_exception_handler(FoveaError, _fovea_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
