"""Inspection patterns as a resource: list, read, create or replace (validated, then written
atomically), delete. A PUT body is the TOML file itself, or the pattern as JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from fovea.api.deps import SettingsDep
from fovea.api.openapi import inline_schema
from fovea.config import Settings
from fovea.errors import InvalidPattern, PayloadTooLarge, UnsupportedMediaType
from fovea.inspection.patterns import (
    MAX_PATTERN_BYTES,
    Pattern,
    PatternStore,
    check_name,
    dump_pattern,
    parse_pattern,
    pattern_of,
)
from fovea.wire import Problem
from fovea.wire.inspection import PatternDetail, PatternInfo, PatternList

router = APIRouter(prefix="/v1/patterns", tags=["patterns"])
TOML_TYPES = ("application/toml", "text/toml", "text/x-toml", "text/plain", "")
_EXAMPLE = 'model = "coco"\n[[objects]]\nlabel = "cup"\nbox = [0.5, 0.5, 0.2, 0.3]\n'


_PUT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/toml": {"schema": {"type": "string"}, "example": _EXAMPLE},
            "application/json": {"schema": inline_schema(Pattern.model_json_schema())},
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (404, 413, 415, 422)
}


def _store(settings: SettingsDep) -> PatternStore:
    return store_of(settings)


def store_of(settings: Settings) -> PatternStore:
    return PatternStore(settings.patterns_path)


StoreDep = Annotated[PatternStore, Depends(_store)]


@router.get("", summary="Every stored pattern; a file that does not load, with its reason")
async def list_patterns(
    store: StoreDep,
    model: Annotated[str | None, Query(max_length=256, description="Only this model's.")] = None,
) -> PatternList:
    infos = []
    for entry in store.entries():
        pattern = entry.pattern
        if pattern is None:
            infos.append(PatternInfo(name=entry.name, error=entry.error))
        elif model is None or pattern.model in (None, model):
            infos.append(
                PatternInfo(
                    name=entry.name,
                    model=pattern.model,
                    description=pattern.description,
                    objects=len(pattern.objects),
                    labels=sorted(pattern.labels),
                )
            )
    return PatternList(patterns=infos)


@router.get("/{name}", summary="One pattern, parsed and as its TOML text", responses=_ERRORS)
async def get_pattern(name: str, store: StoreDep) -> PatternDetail:
    entry = store.read(name)
    assert entry.pattern is not None
    return PatternDetail(name=entry.name, pattern=entry.pattern, toml=entry.text)


@router.put(
    "/{name}",
    summary="Create or replace a pattern",
    description="The body is the TOML file (`application/toml`; `text/plain` works too), kept "
    "as sent, comments included; or the pattern as JSON, stored as TOML. Validated first: a "
    "bad pattern is 422 `invalid-pattern` saying where. 201 when new, 200 when replaced.",
    openapi_extra=_PUT_BODY,
    responses={201: {"model": PatternDetail}, **_ERRORS},
)
async def put_pattern(
    name: str, request: Request, response: Response, store: StoreDep
) -> PatternDetail:
    check_name(name)
    pattern, text = await _read_pattern(request)
    if store.put(name, pattern, text):
        response.status_code = 201
    return PatternDetail(name=name, pattern=pattern, toml=text or dump_pattern(pattern))


@router.delete("/{name}", summary="Delete a pattern", status_code=204, responses=_ERRORS)
async def delete_pattern(name: str, store: StoreDep) -> Response:
    store.delete(name)
    return Response(status_code=204)


async def _read_pattern(request: Request) -> tuple[Pattern, str | None]:
    """The pattern, and its TOML text when it came as TOML (None for JSON)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (*TOML_TYPES, "application/json"):
        raise UnsupportedMediaType(
            f"content type {content_type!r}: send the pattern as application/toml or JSON"
        )
    body = await request.body()
    if len(body) > MAX_PATTERN_BYTES:
        raise PayloadTooLarge(f"a pattern is at most {MAX_PATTERN_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPattern(f"the pattern is not UTF-8 text: {exc}") from exc
    if content_type != "application/json":
        return parse_pattern(text, "the pattern"), text
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidPattern(f"the pattern is not valid JSON: {exc}") from exc
    return pattern_of(data, "the pattern"), None
