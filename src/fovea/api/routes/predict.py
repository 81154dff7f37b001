"""Predict (structured results) and render (an annotated image) for one model.

Each handler admits first (a full model refuses before the upload is read), then reads the
inputs, then hands them to the serving layer; parameters given both in the query string and in
JSON `params` must agree (422 otherwise), and either may be used alone.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from PIL import Image
from starlette.responses import Response

from fovea.api.deps import QueryParamsDep, RepositoryDep, ServiceDep, SettingsDep
from fovea.api.errors import count, problem_body, problem_response
from fovea.api.inputs import read_inputs
from fovea.core import Params, QueryParams
from fovea.errors import InvalidRequest
from fovea.models import Servable
from fovea.serving import ItemOutcome
from fovea.vision.annotators import annotate
from fovea.wire import PredictResponse, Problem, output_of

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
    description="Multipart files in `files` (or `file`), or JSON `{inputs: [{id, image | url}], "
    "params}`. Parameters go in the query string, in JSON `params`, or both (a parameter given "
    "in both must have the same value). One bad image of several lands in `errors` under its "
    "id; if every image fails, the answer is the first image's problem.",
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
    query: QueryParamsDep,
    version: VersionQuery = None,
) -> PredictResponse | Response:
    served = repository.get(model, version)
    with service.admit(served) as ticket:
        inputs, json_params = await read_inputs(
            request, settings.max_image_bytes, settings.max_images_per_request
        )
        ticket.grow(len(inputs) - 1)
        outcomes = await service.predict(served, inputs, _params(query, json_params))
    errors = {o.id: o.error for o in outcomes if o.error is not None}
    for error in errors.values():
        count(request, error)
    if len(errors) == len(outcomes):
        first = next(iter(errors.values()))
        extra = (
            {"errors": {k: problem_body(e) for k, e in errors.items()}} if len(errors) > 1 else {}
        )
        return problem_response(first, instance=request.url.path, **extra)
    return response_of(served, outcomes)


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
    query: QueryParamsDep,
    version: VersionQuery = None,
    format: Annotated[Literal["png", "jpeg"] | None, Query()] = None,
) -> Response:
    served = repository.get(model, version)
    accept = request.headers.get("accept", "")
    image_format = format or ("jpeg" if "image/jpeg" in accept else "png")
    with service.admit(served):  # before a URL input is fetched
        inputs, json_params = await read_inputs(request, settings.max_image_bytes, 1)
        if len(inputs) != 1:
            raise InvalidRequest("render takes exactly one image")
        context = served.context(_params(query, json_params))
        prediction = await service.run(served, inputs[0].source, context, keep_image=True)
        assert prediction.image is not None
        image = prediction.image
        body, _ = await service.pipeline.in_worker(
            lambda: _encode(annotate(image, prediction.result), image_format)
        )
    return Response(body, media_type=f"image/{image_format}")


def response_of(served: Servable, outcomes: Sequence[ItemOutcome]) -> PredictResponse:
    """The predict answer: each image's output, and each failed image's problem under its id."""
    return PredictResponse(
        model=served.name,
        version=served.version,
        task=served.spec.task,
        outputs=[
            output_of(o.id, o.prediction.result, o.prediction.size_wh, o.prediction.timing_ms)
            for o in outcomes
            if o.prediction is not None
        ],
        errors={o.id: Problem(**problem_body(o.error)) for o in outcomes if o.error is not None},
    )


def _params(query: QueryParams, json_params: Params | None) -> Params:
    return query.plain() if json_params is None else query.plain().merged(json_params)


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format.upper(), quality=90)
    return buffer.getvalue()
