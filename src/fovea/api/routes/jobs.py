"""Batch jobs as a resource: start one on a server folder, a list of URLs or an uploaded zip;
follow it; read its results in any format while it runs; cancel it. The router's lifespan runs
the job manager inside the server's (it resumes jobs a stopped server left unfinished)."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from fovea import formats
from fovea.api.deps import RepositoryDep, SettingsDep
from fovea.config import Settings
from fovea.core import Params
from fovea.errors import InvalidParameter, InvalidRequest, JobNotFound, UnsupportedMediaType
from fovea.jobs import archive, sources
from fovea.jobs.engine import JobOptions, LocalEngine
from fovea.jobs.manager import JobManager
from fovea.wire import JobInfo, JobList, JobRequest, Problem


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = LocalEngine(app.state.service, app.state.repository)
    manager = JobManager(settings.data_dir, engine, settings.jobs_concurrent)
    async with anyio.create_task_group() as group:
        await group.start(manager.serve)
        app.state.jobs = manager
        try:
            yield
        finally:
            group.cancel_scope.cancel()  # jobs stay `running` in the store: resumed at start


router = APIRouter(prefix="/v1/jobs", tags=["jobs"], lifespan=_lifespan)
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 403, 404, 413, 415, 422)
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "model"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "model": {"type": "string"},
                        "threshold": {"type": "number"},
                        "include_image_size": {"type": "boolean"},
                        "include_exif_datetime": {"type": "boolean"},
                    },
                }
            },
        },
    }
}


def _manager(request: Request) -> JobManager:
    manager: JobManager = request.app.state.jobs
    return manager


@router.post(
    "",
    status_code=201,
    summary="Start a batch job",
    description="JSON `{model, source: {folder} | {urls}, threshold, params}` (a folder must lie "
    "under FOVEA_JOBS_ROOTS), or multipart with a zip of images in `file` and `model`.",
    openapi_extra=_BODY,
    responses=_ERRORS,
)
async def create_job(request: Request, settings: SettingsDep, repository: RepositoryDep) -> JobInfo:
    manager = _manager(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        options, source, items = await _from_upload(request, settings)
    elif content_type in ("application/json", ""):
        options, source, items = await _from_json(request, settings)
    else:
        raise UnsupportedMediaType(f"content type {content_type!r}: send JSON or a multipart zip")
    await manager.engine.header(options)  # an unknown model or a classifier: refused now
    row = manager.submit(options, source, items)
    return manager.info(row.id)


@router.get("", summary="Every job, oldest first")
async def list_jobs(request: Request) -> JobList:
    return JobList(jobs=_manager(request).all())


@router.get("/{job}", summary="One job's state and progress", responses={404: {"model": Problem}})
async def get_job(job: str, request: Request) -> JobInfo:
    return _manager(request).info(job)


@router.delete("/{job}", summary="Cancel a job", responses={404: {"model": Problem}})
async def cancel_job(job: str, request: Request) -> JobInfo:
    manager = _manager(request)
    manager.cancel(job)
    return manager.info(job)


@router.get(
    "/{job}/results",
    summary="A job's results so far, in a format",
    description="`megadetector` (default; MegaDetector's batch output), `coco` and `yolo` and "
    "`voc` (zips), `csv`. Works while the job runs: what is done so far.",
    responses={
        200: {"content": {"application/json": {}, "application/zip": {}, "text/csv": {}}},
        **_ERRORS,
    },
    response_class=Response,
)
async def job_results(
    job: str,
    request: Request,
    format: Annotated[
        str, Query(description="megadetector, coco, yolo, voc or csv")
    ] = "megadetector",
    threshold: Annotated[
        float, Query(ge=0.0, le=1.0, description="Other formats: from this conf.")
    ] = 0.0,
) -> Response:
    manager = _manager(request)
    if format not in formats.FORMATS:
        raise InvalidParameter(f"unknown format {format!r}; formats: {', '.join(formats.FORMATS)}")
    results = await anyio.to_thread.run_sync(manager.results, job)
    if format == "megadetector" and not manager.include_image_size(job):
        results = results.without_sizes()
    files = await anyio.to_thread.run_sync(formats.export, results, format, threshold)
    body, media_type, name = formats.bundle(files, f"job-{job}-{format}")
    disposition = f'attachment; filename="{name}"'
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get(
    "/{job}/image",
    summary="One image of a job, as stored (to show it with its boxes)",
    responses={200: {"content": {"image/*": {}}}, **_ERRORS},
    response_class=Response,
)
async def job_image(
    job: str, request: Request, file: Annotated[str, Query(max_length=4096)]
) -> Response:
    location = _manager(request).location(job, file)
    if location is None or location.startswith(("http://", "https://")):
        raise JobNotFound(f"job {job!r} has no local image {file!r}")
    try:
        data = await anyio.Path(location).read_bytes()
    except OSError as exc:
        raise JobNotFound(f"{file!r} cannot be read any more") from exc
    return Response(data, media_type=_media(file) or "application/octet-stream")


async def _from_json(
    request: Request, settings: Settings
) -> tuple[JobOptions, dict[str, Any], list[sources.Item]]:
    body = await request.body()
    try:
        parsed = JobRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise InvalidParameter(_validation_detail(exc)) from exc
    options = JobOptions(
        parsed.model,
        parsed.version,
        parsed.params,
        parsed.threshold,
        parsed.include_image_size,
        parsed.include_exif_datetime,
    )
    if parsed.source.urls is not None:
        return options, {"urls": len(parsed.source.urls)}, sources.urls(parsed.source.urls)
    assert parsed.source.folder is not None
    folder = sources.folder_under(parsed.source.folder, settings.jobs_roots)
    items = await anyio.to_thread.run_sync(sources.scan_folder, folder, parsed.source.recursive)
    return options, {"folder": str(folder)}, items


async def _from_upload(
    request: Request, settings: Settings
) -> tuple[JobOptions, dict[str, Any], list[sources.Item]]:
    try:
        async with request.form(max_files=1, max_fields=20) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("send the zip of images in the form field 'file'")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            options = _form_options(fields)
            dest = settings.data_dir / "uploads" / uuid.uuid4().hex
            await anyio.to_thread.run_sync(
                archive.unpack, upload.file, dest, settings.jobs_max_unzipped_bytes
            )
    except HTTPException as exc:
        raise InvalidRequest(f"malformed multipart body: {exc.detail}") from exc
    items = await anyio.to_thread.run_sync(sources.scan_folder, dest, True)
    return options, {"upload": upload.filename or "upload.zip"}, items


def _form_options(fields: dict[str, str]) -> JobOptions:
    if not fields.get("model"):
        raise InvalidRequest("name the model in the form field 'model'")
    try:
        threshold = float(fields.get("threshold", 0.005))
    except ValueError as exc:
        raise InvalidParameter(f"threshold: not a number: {fields['threshold']!r}") from exc
    if not 0.0 <= threshold <= 1.0:
        raise InvalidParameter(f"threshold: {threshold} is not in 0..1")
    return JobOptions(
        fields["model"],
        fields.get("version") or None,
        Params(),
        threshold,
        fields.get("include_image_size", "").lower() in ("1", "true", "on", "yes"),
        fields.get("include_exif_datetime", "").lower() in ("1", "true", "on", "yes"),
    )


def _validation_detail(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        raise InvalidRequest(f"the body is not valid JSON: {errors[0]['msg']}") from exc
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors)


def _media(file: str) -> str | None:
    return mimetypes.guess_type("x" + Path(file).suffix.lower())[0]
