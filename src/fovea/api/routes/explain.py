"""Explain one image's answer: a heatmap of where the model looked, as an overlay image or JSON;
and the original containerised classification API's `{"img": base64}` style.

The request is admitted like any other (503 when the model is full, before the upload is read);
its model runs are then background work (`fovea.serving.explain`), so predict stays responsive.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from PIL import Image
from starlette.responses import Response

from fovea.api.deps import RepositoryDep, ServiceDep, SettingsDep
from fovea.api.inputs import inputs_of, is_multipart, read_json, read_uploads
from fovea.core import Detections, ExplainParams, ExplainQuery
from fovea.errors import InvalidRequest
from fovea.models import Servable
from fovea.serving import Base64, Explanation, Source, explain
from fovea.vision.annotators import BoxAnnotator, HeatmapAnnotator
from fovea.wire import (
    Base64ExplainRequest,
    Base64ExplainResponse,
    ExplainRequest,
    ExplainResponse,
    Problem,
    heatmap_out,
)

router = APIRouter(prefix="/v1/models", tags=["explain"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/ExplainRequest"}},
        },
    }
}
_BASE64_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Base64ExplainRequest"}}
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (400, 404, 413, 415, 422, 503)
}
ExplainQueryDep = Annotated[ExplainQuery, Query()]
VersionQuery = Annotated[
    str | None, Query(description="Model version; default: the served one.", max_length=32)
]
Format = Literal["png", "jpeg", "json"]
ImageFormat = Literal["png", "jpeg"]


@router.post(
    "/{model}/explain",
    summary="Where the model looked: a heatmap for one image's class or detected box",
    description="Classifiers: `scorecam`, `rise` or `occlusion`, for the top class or `target`. "
    "Detectors: `drise` for one box (`box_index`, or `box` coordinates). One image as a multipart "
    "`file` or JSON `{inputs: [{image | url}], params}`; parameters in the query string, in "
    "`params`, or both (equal where both). The heatmap over the image as PNG (default) or JPEG, "
    "or JSON with `format=json` or `Accept: application/json`.",
    openapi_extra=_BODY,
    responses={
        200: {
            "content": {
                "image/png": {},
                "image/jpeg": {},
                "application/json": {"schema": {"$ref": "#/components/schemas/ExplainResponse"}},
            }
        },
        **_ERRORS,
    },
    response_class=Response,
)
async def explain_image(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    query: ExplainQueryDep,
    version: VersionQuery = None,
    format: Annotated[Format | None, Query()] = None,
) -> Response:
    served = repository.get(model, version)
    answer_format = format or _negotiated(request.headers.get("accept", ""))
    with service.admit(served):  # refused before the upload is read when the model is full
        source, json_params = await _read(request, settings.max_image_bytes)
    params = query.plain() if json_params is None else query.plain().merged(json_params)
    explanation = await explain(service, served, source, params, settings.explain_max_evaluations)
    if answer_format == "json":
        body, _ = await service.pipeline.in_worker(lambda: _json(served, explanation))
        return Response(body, media_type="application/json")
    encoded, _ = await service.pipeline.in_worker(
        lambda: _encode(_overlay(explanation, params), answer_format)
    )
    return Response(encoded, media_type=f"image/{answer_format}")


@router.post(
    "/{model}/explain/base64",
    summary="Explain in the original containerised classification API's style",
    description='`{"img": "<base64>"}` in; the class, its score and the heatmap over the image '
    "as base64 (PNG, or JPEG with `format=jpeg`) out. Parameters as for explain, in the query "
    "string.",
    openapi_extra=_BASE64_BODY,
    responses=_ERRORS,
    response_model=Base64ExplainResponse,
)
async def explain_base64(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    query: ExplainQueryDep,
    version: VersionQuery = None,
    format: Annotated[ImageFormat, Query()] = "png",
) -> Base64ExplainResponse:
    served = repository.get(model, version)
    with service.admit(served):
        body = await read_json(request, Base64ExplainRequest, '{"img": "<base64>"}')
    params = query.plain()
    explanation = await explain(
        service, served, Base64(body.img), params, settings.explain_max_evaluations
    )
    encoded, _ = await service.pipeline.in_worker(
        lambda: _encode(_overlay(explanation, params), format)
    )
    heatmap = explanation.heatmap
    return Base64ExplainResponse(
        label=heatmap.label,
        class_id=heatmap.class_id,
        score=round(heatmap.score, 5),
        method=explanation.method,
        heatmap=base64.b64encode(encoded).decode("ascii"),
    )


async def _read(request: Request, max_bytes: int) -> tuple[Source, ExplainParams | None]:
    if is_multipart(request):
        inputs, params = await read_uploads(request, max_bytes, 1), None
    else:
        parsed = await read_json(request, ExplainRequest, '{"inputs": [{"image": "..."}]}')
        inputs, params = inputs_of(parsed.inputs), parsed.params
    if len(inputs) != 1:
        raise InvalidRequest("explain takes exactly one image")
    return inputs[0].source, params


def _negotiated(accept: str) -> Format:
    if "application/json" in accept:
        return "json"
    return "jpeg" if "image/jpeg" in accept else "png"


def _json(served: Servable, explanation: Explanation) -> bytes:
    heatmap = explanation.heatmap
    height, width = heatmap.values_hw.shape
    box = explanation.box
    answer = ExplainResponse(
        model=served.name,
        version=served.version,
        task=served.spec.task,
        method=explanation.method,
        label=heatmap.label,
        class_id=heatmap.class_id,
        score=round(heatmap.score, 5),
        box=None if box is None else [round(float(v), 2) for v in box],
        evaluations=explanation.evaluations,
        width=width,
        height=height,
        heatmap=heatmap_out(heatmap),
        timing=explanation.timing_ms,
    )
    return answer.model_dump_json(exclude_none=True).encode()


def _overlay(explanation: Explanation, params: ExplainParams) -> Image.Image:
    """The heatmap over the image; for a detector, the explained box drawn on top."""
    drawn = HeatmapAnnotator(params.opacity, params.colormap).annotate(
        explanation.image, explanation.heatmap
    )
    if explanation.box is not None:
        heatmap = explanation.heatmap
        box = Detections.build(explanation.box[None], [heatmap.score], [heatmap.class_id])
        drawn = BoxAnnotator().annotate(drawn, box)
    return drawn


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format.upper(), quality=90)
    return buffer.getvalue()
