"""Turn a predict request, multipart or JSON, into image inputs and parameters."""

from __future__ import annotations

import base64
import binascii
import re

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from fovea.errors import (
    InvalidBase64,
    InvalidParameter,
    InvalidRequest,
    PayloadTooLarge,
    TooManyImages,
    UnsupportedMediaType,
)
from fovea.model import PredictParams
from fovea.service import ImageInput

from .schemas import PredictRequest

FILE_FIELDS = ("files", "file")
_DATA_URI = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


async def read_inputs(
    request: Request, query_params: PredictParams, max_bytes: int, max_images: int
) -> tuple[list[ImageInput], PredictParams]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return _unique_ids(await _multipart(request, max_bytes, max_images)), query_params
    if content_type in ("application/json", ""):
        return await _json(request, max_bytes, max_images)
    raise UnsupportedMediaType(
        f"content type {content_type!r}: send multipart/form-data or application/json"
    )


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
    return ImageInput(upload.filename or str(index), data=data)


def _unique_ids(inputs: list[ImageInput]) -> list[ImageInput]:
    seen: set[str] = set()
    out = []
    for index, item in enumerate(inputs):
        item_id = item.id if item.id not in seen else f"{item.id}#{index}"
        seen.add(item_id)
        out.append(ImageInput(item_id, item.data, item.url))
    return out


async def _json(
    request: Request, max_bytes: int, max_images: int
) -> tuple[list[ImageInput], PredictParams]:
    body = await request.body()
    if not body:
        raise InvalidRequest('empty body: send JSON {"inputs": [...]} or multipart files')
    try:
        parsed = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise InvalidRequest(f"the body is not valid JSON: {errors[0]['msg']}") from exc
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors
        )
        raise InvalidParameter(detail) from exc
    if len(parsed.inputs) > max_images:
        raise TooManyImages(f"{len(parsed.inputs)} images; the limit is {max_images} a request")
    ids = [item.id if item.id is not None else str(i) for i, item in enumerate(parsed.inputs)]
    if len(set(ids)) != len(ids):
        raise InvalidParameter("input ids must be unique")
    inputs = []
    for item_id, item in zip(ids, parsed.inputs, strict=True):
        if item.url is not None:
            inputs.append(ImageInput(item_id, url=item.url))
        else:
            assert item.image is not None
            inputs.append(ImageInput(item_id, data=decode_base64(item.image, max_bytes)))
    return inputs, parsed.params.to_params()


def decode_base64(text: str, max_bytes: int) -> bytes:
    """Standard or URL-safe base64, with or without a data: URI prefix and line breaks."""
    payload = _DATA_URI.sub("", text.strip(), count=1)
    payload = "".join(payload.split())
    if len(payload) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"the base64 image decodes to more than {max_bytes} bytes")
    alphabet = b"-_" if ("-" in payload or "_" in payload) else None
    try:
        return base64.b64decode(payload, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidBase64(f"the image field is not valid base64: {exc}") from exc
