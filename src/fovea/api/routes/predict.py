"""Predict (structured results) and render (an annotated image) for one model."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from PIL import Image
from starlette.responses import Response

from fovea.api.deps import QueryParamsDep, RepositoryDep, ServiceDep, SettingsDep
from fovea.api.errors import count, problem_body, problem_response
from fovea.api.inputs import read_inputs
from fovea.api.schemas import PredictResponse, Problem, output_of
from fovea.errors import InvalidRequest
from fovea.model import Prepared, ServedModel
from fovea.results import Classes, Detections, Mask, Result
from fovea.vision.draw import draw_boxes, draw_caption, overlay_mask

router = APIRouter(prefix="/v1/models", tags=["predict"])

_MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "file": {"type": "string", "format": "binary"},
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 404, 413, 415, 422, 503)
}
VersionQuery = Annotated[
    str | None, Query(description="Model version; default: the served one.", max_length=32)
]


@router.post(
    "/{model}/predict",
    summary="Run a model on one or more images",
    description="Multipart files in `files` (or `file`), with parameters in the query string; "
    "or JSON `{inputs: [{id, image | url}], params}`. One bad image of several lands in "
    "`errors` under its id; if every image fails, the answer is the first image's problem.",
    openapi_extra=_BODY,
    responses=_ERRORS,
    response_model=PredictResponse,
    response_model_exclude_none=True,
)
async def predict(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    query_params: QueryParamsDep,
    version: VersionQuery = None,
) -> PredictResponse | Response:
    served = repository.get(model, version)
    service.check_capacity(served)  # shed load before spending time on the upload
    inputs, params = await read_inputs(
        request, query_params, settings.max_image_bytes, settings.max_images_per_request
    )
    outcomes = await service.predict(served, inputs, params)
    outputs = [output_of(o.id, o.prediction, served) for o in outcomes if o.prediction]
    errors = {o.id: o.error for o in outcomes if o.error is not None}
    for error in errors.values():
        count(request, error)
    if not outputs:
        first = next(iter(errors.values()))
        extra = (
            {"errors": {k: problem_body(e) for k, e in errors.items()}} if len(errors) > 1 else {}
        )
        return problem_response(first, instance=request.url.path, **extra)
    return PredictResponse(
        model=served.name,
        version=served.version,
        task=served.spec.task,
        outputs=outputs,
        errors={k: Problem(**problem_body(e)) for k, e in errors.items()},
    )


@router.post(
    "/{model}/render",
    summary="Run a model on one image and get it back annotated",
    description="Boxes with labels and scores, a mask overlay, or a top-k caption. PNG by "
    "default; JPEG with `format=jpeg` or `Accept: image/jpeg`.",
    openapi_extra=_BODY,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, **_ERRORS},
    response_class=Response,
)
async def render(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    query_params: QueryParamsDep,
    version: VersionQuery = None,
    format: Annotated[Literal["png", "jpeg"] | None, Query()] = None,
) -> Response:
    served = repository.get(model, version)
    inputs, params = await read_inputs(request, query_params, settings.max_image_bytes, 1)
    if len(inputs) != 1:
        raise InvalidRequest("render takes exactly one image")
    served.check_params(params)
    data = await service.load(inputs[0])
    accept = request.headers.get("accept", "")
    image_format = format or ("jpeg" if "image/jpeg" in accept else "png")

    def draw(prepared: Prepared, result: Result) -> bytes:
        return _draw(served, prepared.image, result, image_format)

    body = await service.render(served, data, params, draw)
    return Response(body, media_type=f"image/{image_format}")


def _draw(served: ServedModel, image: Image.Image, result: Result, image_format: str) -> bytes:
    if isinstance(result, Detections):
        image = draw_boxes(image, result, served.labels)
    elif isinstance(result, Mask):
        image = overlay_mask(image, result)
    elif isinstance(result, Classes):
        image = draw_caption(image, result, served.labels)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format.upper(), quality=90)
    return buffer.getvalue()
