"""Turn a predict request, multipart or JSON, into image inputs (and the JSON's parameters).

Nothing is decoded here: base64 text and URLs stay as they are, so one bad item fails alone.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from fovea.core import Params
from fovea.errors import (
    InvalidParameter,
    InvalidRequest,
    PayloadTooLarge,
    TooManyImages,
    UnsupportedMediaType,
)
from fovea.serving import Base64, Encoded, ImageInput, Url
from fovea.wire import InputItem, PredictRequest

FILE_FIELDS = ("files", "file")
Body = TypeVar("Body", bound=BaseModel)


async def read_inputs(
    request: Request, max_bytes: int, max_images: int
) -> tuple[list[ImageInput], Params | None]:
    """The request's images, and the JSON body's `params` (None for multipart)."""
    if is_multipart(request):
        return await read_uploads(request, max_bytes, max_images), None
    return await _json(request, max_images)


def is_multipart(request: Request) -> bool:
    """True for a multipart body; False for JSON (or no content type); else 415."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return True
    if content_type in ("application/json", ""):
        return False
    raise UnsupportedMediaType(
        f"content type {content_type!r}: send multipart/form-data or application/json"
    )


async def read_uploads(request: Request, max_bytes: int, max_images: int) -> list[ImageInput]:
    """The uploaded files of a multipart body, each named by its file name (made unique)."""
    return _unique_ids(await _multipart(request, max_bytes, max_images))


async def _multipart(request: Request, max_bytes: int, max_images: int) -> list[ImageInput]:
    try:
        # The context manager closes the spooled upload files, whatever happens below.
        async with request.form(max_files=max_images, max_fields=100) as form:
            uploads = [
                v for key in FILE_FIELDS for v in form.getlist(key) if isinstance(v, UploadFile)
            ]
            if not uploads:
                raise InvalidRequest("no image: send one or more files in the form field 'files'")
            return [
                await _read_upload(upload, index, max_bytes) for index, upload in enumerate(uploads)
            ]
    except HTTPException as exc:  # Starlette's form parser reports every problem this way
        if "Too many files" in exc.detail:
            raise TooManyImages(f"more than {max_images} images in one request") from exc
        raise InvalidRequest(f"malformed multipart body: {exc.detail}") from exc


async def _read_upload(upload: UploadFile, index: int, max_bytes: int) -> ImageInput:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"file {upload.filename!r} is larger than {max_bytes} bytes")
    return ImageInput(upload.filename or str(index), Encoded(data))


def _unique_ids(inputs: list[ImageInput]) -> list[ImageInput]:
    seen: set[str] = set()
    out = []
    for index, item in enumerate(inputs):
        item_id = item.id if item.id not in seen else f"{item.id}#{index}"
        seen.add(item_id)
        out.append(ImageInput(item_id, item.source))
    return out


async def _json(request: Request, max_images: int) -> tuple[list[ImageInput], Params]:
    parsed = await read_json(request, PredictRequest, '{"inputs": [...]}')
    if len(parsed.inputs) > max_images:
        raise TooManyImages(f"{len(parsed.inputs)} images; the limit is {max_images} a request")
    return inputs_of(parsed.inputs), parsed.params


async def read_json(request: Request, schema: type[Body], shape: str) -> Body:
    """The JSON body validated as `schema`: 400 for no body or bad JSON, 422 for bad fields."""
    body = await request.body()
    if not body:
        raise InvalidRequest(f"empty body: send JSON {shape} or multipart files")
    try:
        return schema.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise InvalidRequest(f"the body is not valid JSON: {errors[0]['msg']}") from exc
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors
        )
        raise InvalidParameter(detail) from exc


def inputs_of(items: list[InputItem]) -> list[ImageInput]:
    """JSON input items as image inputs; ids default to the index and must be unique."""
    ids = [item.id if item.id is not None else str(i) for i, item in enumerate(items)]
    if len(set(ids)) != len(ids):
        raise InvalidParameter("input ids must be unique")
    return [
        ImageInput(item_id, Url(item.url) if item.url is not None else Base64(item.image or ""))
        for item_id, item in zip(ids, items, strict=True)
    ]
