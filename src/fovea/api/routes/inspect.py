"""Inspection: judge an uploaded image against a pattern, take a photo with the camera and judge
it, and the history of kept inspections.

Each handler admits first (a full model refuses before the upload is read or the photo taken).
A camera that is down, slow or answers something not an image is a 502 or 504 problem.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from fovea.api.deps import RepositoryDep, ServiceDep, SettingsDep
from fovea.api.openapi import inline_schema
from fovea.errors import (
    CameraNotConfigured,
    CameraUnavailable,
    ImageDecodeError,
    InvalidParameter,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from fovea.inspection import matching
from fovea.inspection.camera import TakePhotoParams, take_photo
from fovea.inspection.inspector import Inspector, PatternRef
from fovea.inspection.patterns import AUTO, PatternStore, pattern_of
from fovea.inspection.records import RecordPolicy, RecordStore
from fovea.serving import Base64, Encoded, ImageInput, Url
from fovea.wire import Problem
from fovea.wire.inspection import InspectionList, InspectionSummary, InspectRequest, InspectResponse


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the app's lifespan (FastAPI merges a router's): scipy's first import takes
    a second, so it happens here, off the event loop, and not in the first inspection."""
    await anyio.to_thread.run_sync(matching.warm)
    yield


router = APIRouter(tags=["inspection"], lifespan=_lifespan)

_MULTIPART = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "pattern": {"type": "string", "description": "A name, `auto`, or a pattern's TOML."},
        "annotate": {"type": "boolean"},
    },
    "required": ["file"],
}
_INSPECT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART},
            "application/json": {"schema": inline_schema(InspectRequest.model_json_schema())},
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 404, 413, 415, 422, 501, 502, 503, 504)
}
PatternQuery = Annotated[
    str | None,
    Query(max_length=64, description="A stored pattern's name, or `auto` (the default)."),
]
AnnotateQuery = Annotated[bool, Query(description="Add the annotated image (base64 PNG).")]
VersionQuery = Annotated[str | None, Query(max_length=32, description="Model version.")]


class TriggerRequest(BaseModel):
    """Camera parameters for this photo only, over FOVEA_CAMERA_PARAMS."""

    model_config = ConfigDict(extra="forbid")

    camera: TakePhotoParams | None = None


def inspector_of(request: Request) -> Inspector:
    """The app's inspector, built on first use (the lifespan has made the service by then)."""
    state = request.app.state
    inspector: Inspector | None = getattr(state, "inspector", None)
    if inspector is None:
        settings = state.settings
        policy = RecordPolicy(settings.inspect_record, settings.inspect_keep)
        inspector = Inspector(
            state.service,
            PatternStore(settings.patterns_path),
            RecordStore(settings.records_path, policy),
            state.metrics,
        )
        state.inspector = inspector
    return inspector


@router.post(
    "/v1/models/{model}/inspect",
    summary="Judge one image against a pattern: OK or NOK, each position, the extras",
    description="Multipart `file` (with optional form fields `pattern` and `annotate`), or JSON "
    "`{image | url, pattern, annotate}`. `pattern` is a stored pattern's name, `auto` (every "
    "pattern for this model; the one with the fewest errors, then the least offset, wins), or a "
    "pattern given inline (TOML text, or a JSON object).",
    openapi_extra=_INSPECT_BODY,
    responses=_ERRORS,
    response_model=InspectResponse,
    response_model_exclude_none=True,
)
async def inspect(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    pattern: PatternQuery = None,
    annotate: AnnotateQuery = False,
    version: VersionQuery = None,
) -> InspectResponse:
    served = repository.get(model, version)
    inspector = inspector_of(request)
    with service.admit(served):
        item, given, annotated = await _read(request, settings.max_image_bytes)
        if given is not None and pattern is not None and given != pattern:
            raise InvalidParameter("pattern given in the query and in the body differently")
        patterns = inspector.resolve(served, given if given is not None else pattern or AUTO)
        return await inspector.inspect(
            served, item.source, patterns, image_id=item.id, annotate=annotate or annotated
        )


@router.post(
    "/v1/inspect/trigger",
    summary="Take a photo with the camera and judge it",
    description="Asks the camera adapter at FOVEA_CAMERA_URL for one photo (with "
    "FOVEA_CAMERA_PARAMS, and the body's `camera` parameters over them), then inspects it as "
    "`/v1/models/{model}/inspect` does. `model` may be left out when `pattern` names a stored "
    "pattern that names its model. A camera that cannot be reached or answers garbage is 502 "
    "`camera-unavailable`; one slower than FOVEA_CAMERA_TIMEOUT_S is 504 `camera-timeout`.",
    responses=_ERRORS,
    response_model=InspectResponse,
    response_model_exclude_none=True,
)
async def trigger(
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    body: TriggerRequest | None = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    pattern: PatternQuery = None,
    annotate: AnnotateQuery = False,
    version: VersionQuery = None,
) -> InspectResponse:
    camera = settings.camera
    if camera is None:
        raise CameraNotConfigured("set FOVEA_CAMERA_URL to the camera adapter's URL")
    inspector = inspector_of(request)
    ref = pattern or AUTO
    served = repository.get(_model_for(inspector, model, ref), version)
    with service.admit(served):
        patterns = inspector.resolve(served, ref)
        started = time.perf_counter()
        photo = await take_photo(camera, body.camera if body else None)
        camera_ms = round((time.perf_counter() - started) * 1000, 3)
        try:
            return await inspector.inspect(
                served,
                Encoded(photo),
                patterns,
                image_id="camera",
                origin="camera",
                annotate=annotate,
                camera_ms=camera_ms,
            )
        except ImageDecodeError as exc:
            raise CameraUnavailable(f"the camera's photo does not decode: {exc.detail}") from exc


@router.get("/v1/inspections", summary="Kept inspections, newest first")
async def list_inspections(
    request: Request,
    decision: Literal["OK", "NOK"] | None = None,
    pattern: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> InspectionList:
    records = inspector_of(request).records
    assert records is not None
    found = records.list(decision, pattern, model, limit)
    return InspectionList(inspections=[InspectionSummary.model_validate(s) for s in found])


@router.get(
    "/v1/inspections/{inspection_id}",
    summary="One kept inspection, as it was answered",
    responses=_ERRORS,
    response_model=InspectResponse,
    response_model_exclude_none=True,
)
async def get_inspection(inspection_id: str, request: Request) -> InspectResponse:
    records = inspector_of(request).records
    assert records is not None
    return InspectResponse.model_validate(records.get(inspection_id))


@router.get(
    "/v1/inspections/{inspection_id}/image",
    summary="The photo a kept inspection judged (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}, **_ERRORS},
    response_class=Response,
)
async def get_inspection_image(inspection_id: str, request: Request) -> Response:
    records = inspector_of(request).records
    assert records is not None
    return Response(records.image(inspection_id), media_type="image/jpeg")


def _model_for(inspector: Inspector, model: str | None, ref: str) -> str:
    if model is not None:
        return model
    if ref != AUTO:
        stored = inspector.patterns.read(ref).pattern
        if stored is not None and stored.model is not None:
            return stored.model
    raise InvalidParameter("which model? give `model`, or a `pattern` whose file names its model")


async def _read(request: Request, max_bytes: int) -> tuple[ImageInput, PatternRef | None, bool]:
    """The image, the body's pattern (None if it gives none) and whether it asks to annotate."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _multipart(request, max_bytes)
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"content type {content_type!r}: send multipart/form-data or application/json"
        )
    body = await request.body()
    if not body:
        raise InvalidRequest('empty body: send JSON {"image": ..., "pattern": ...} or a file')
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("pattern"), dict):
        # Checked on its own, so its errors read as a pattern's: `objects[0].box[3]: ...`.
        data["pattern"] = pattern_of(data["pattern"], "the inline pattern")
    try:
        parsed = InspectRequest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors)
        raise InvalidParameter(detail) from exc
    source = Url(parsed.url) if parsed.url is not None else Base64(parsed.image or "")
    item = ImageInput(parsed.id or ("url" if parsed.url else "image"), source)
    return item, parsed.pattern, parsed.annotate


async def _multipart(
    request: Request, max_bytes: int
) -> tuple[ImageInput, PatternRef | None, bool]:
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file") or form.get("files")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("no image: send one file in the form field 'file'")
            data = await upload.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"file {upload.filename!r} is larger than {max_bytes} bytes")
            pattern, annotate = form.get("pattern"), form.get("annotate")
            item = ImageInput(upload.filename or "image", Encoded(data))
    except HTTPException as exc:  # Starlette's form parser reports every problem this way
        raise InvalidRequest(f"malformed multipart body: {exc.detail}") from exc
    wants = isinstance(annotate, str) and annotate.lower() in ("1", "true", "yes", "on")
    return item, pattern if isinstance(pattern, str) and pattern else None, wants
