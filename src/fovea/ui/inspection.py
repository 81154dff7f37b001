"""The Inspect page's side of the API, through `fovea.client` with failures shown as messages,
and plain functions that shape an inspection answer for the page (unit-tested without
Streamlit or a server).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from typing import Any

import httpx
import streamlit as st
from PIL import Image, UnidentifiedImageError

from fovea.client import APIError
from fovea.ui import api
from fovea.vision.annotators import STATUS_COLOURS
from fovea.wire.inspection import (
    InspectionSummary,
    InspectResponse,
    PatternDetail,
    PatternInfo,
)

Json = dict[str, Any]
_MEMO_KEY = "_fovea_inspections"
_MEMO_SIZE = 64
BANNER_COLOURS = {"OK": "#1e8e3e", "NOK": "#d93025"}


def inspect_upload(
    model: str, pattern: str, name: str, data: bytes
) -> InspectResponse | api.Failure:
    """An upload inspected once per session for this model and pattern (a rerun asks nothing)."""
    key = (api.settings().api_url, model, pattern, hashlib.sha256(data).hexdigest())
    memo: dict[tuple[str, ...], InspectResponse | api.Failure] = st.session_state.setdefault(
        _MEMO_KEY, {}
    )
    if key in memo:
        return memo[key]
    answer = api.call(lambda c: c.inspect(model, data, pattern, annotate=True, filename=name))
    if isinstance(answer, api.Failure) and not answer.final:
        return answer
    if len(memo) >= _MEMO_SIZE:
        memo.pop(next(iter(memo)))
    memo[key] = answer
    return answer


def trigger(model: str, pattern: str) -> InspectResponse | api.Failure:
    """A photo from the server's camera, inspected (every click takes a new photo)."""
    return api.call(lambda c: c.trigger(model=model, pattern=pattern, annotate=True))


def patterns(model: str | None = None) -> list[PatternInfo] | api.Failure:
    return api.call(lambda c: c.patterns(model))


def pattern(name: str) -> PatternDetail | api.Failure:
    return api.call(lambda c: c.pattern(name))


def save_pattern(name: str, text: str) -> PatternDetail | api.Failure:
    return api.call(lambda c: c.put_pattern(name, text))


def delete_pattern(name: str) -> bool | api.Failure:
    def delete(client: Any) -> bool:
        client.delete_pattern(name)
        return True

    return api.call(delete)


def recent(limit: int) -> list[InspectionSummary] | api.Failure:
    return api.call(lambda c: c.inspections(limit=limit))


@st.cache_data(max_entries=64, show_spinner=False)
def _photo(api_url: str, api_key: str | None, inspection_id: str, max_side: int) -> bytes | None:
    client = api._client(api_url, api_key)
    try:
        data = client.inspection_image(inspection_id)
    except (APIError, httpx.HTTPError):  # a thumbnail that cannot be had is left out
        return None
    return thumbnail(data, max_side)


def photo_thumbnail(inspection_id: str, max_side: int = 320) -> bytes | None:
    """A kept inspection's photo, shrunk; records never change, so it is fetched once."""
    current = api.settings()
    return _photo(current.api_url, current.api_key, inspection_id, max_side)


def thumbnail(data: bytes, max_side: int) -> bytes | None:
    """JPEG bytes no larger than max_side on a side; None for bytes that are no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            small = image.convert("RGB")
    except (UnidentifiedImageError, OSError):
        return None
    small.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def annotated(answer: InspectResponse) -> Image.Image | None:
    """The server's annotated picture of this answer, decoded."""
    if not answer.annotated:
        return None
    try:
        return Image.open(io.BytesIO(base64.b64decode(answer.annotated))).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def banner_html(answer: InspectResponse) -> str:
    """A large OK / NOK banner with the pattern and the number of errors."""
    colour = BANNER_COLOURS[answer.decision]
    errors = "no errors" if answer.errors == 0 else f"{answer.errors} error(s)"
    detail = html.escape(f"{answer.pattern} · {errors} · {answer.image_id}")
    return (
        f'<div data-testid="inspection-banner" style="background:{colour};color:white;'
        'border-radius:0.5rem;padding:0.6rem 1.2rem;margin-bottom:0.8rem">'
        f'<div style="font-size:4rem;font-weight:800;line-height:1.1">{answer.decision}</div>'
        f'<div style="font-size:1.1rem">{detail}</div></div>'
    )


def position_rows(answer: InspectResponse) -> list[Json]:
    """One row per expected position and per extra part: what, where, how far off."""
    rows = []
    for p in answer.positions:
        dx, dy = (None, None) if p.delta is None else (p.delta[0], p.delta[1])
        rows.append(
            {
                "#": p.index,
                "label": p.label,
                "status": p.status,
                "dx": _round(dx),
                "dy": _round(dy),
                "offset": _round(p.offset),
                "score": _round(p.score, 3),
            }
        )
    for e in answer.extras:
        status = "counted" if e.counted else "extra"
        row = {"#": None, "label": e.label, "status": status, "dx": None, "dy": None}
        rows.append({**row, "offset": None, "score": _round(e.score, 3)})
    return rows


def count_rows(answer: InspectResponse) -> list[Json]:
    return [
        {"label": c.label, "count": c.count, "range": f"{c.min}-{c.max}", "ok": c.ok}
        for c in answer.counts
    ]


def status_legend() -> str:
    """The annotation's colours, as markdown."""
    return " · ".join(
        f'<span style="color:rgb{colour}">■</span> {status}'
        for status, colour in STATUS_COLOURS.items()
    )


def strip_caption(summary: InspectionSummary) -> str:
    return f"{summary.decision} · {summary.pattern} · {summary.time[11:19]}"


def pattern_rows(listed: list[PatternInfo]) -> list[Json]:
    return [
        {
            "name": p.name,
            "model": p.model or "any",
            "positions": p.objects,
            "labels": ", ".join(p.labels),
            "error": p.error or "",
        }
        for p in listed
    ]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
