"""Each problem `type` URI resolves to a short description of that error."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException

from fovea.errors import PROBLEM_TYPES

router = APIRouter(prefix="/problems", tags=["problems"])
_BY_SLUG = {error.type: error for error in PROBLEM_TYPES}


@router.get("", summary="Every problem type the API answers with")
async def list_problems() -> dict[str, dict[str, str | int]]:
    return {slug: _describe(slug) for slug in _BY_SLUG}


@router.get("/{slug}", summary="One problem type")
async def get_problem(slug: str) -> dict[str, str | int]:
    if slug not in _BY_SLUG:
        raise HTTPException(404, f"no problem type {slug!r}")
    return _describe(slug)


def _describe(slug: str) -> dict[str, str | int]:
    error = _BY_SLUG[slug]
    return {
        "type": slug,
        "title": error.title,
        "status": error.status,
        "description": (error.__doc__ or "").strip(),
    }
