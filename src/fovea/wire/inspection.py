"""The inspection API's JSON (requests, answers, pattern listings, records) and `overlay_of`, which
turns an answer into what the inspection annotator draws, so the server's annotated image and the
UI's are the same drawing. No server imports: the client and the UI read these.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fovea.core import Detections
from fovea.inspection.patterns import Pattern

Decision = Literal["OK", "NOK"]


class InspectRequest(BaseModel):
    """One image (base64 or a URL) and the pattern to judge it by."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=256, description="Echoed back; default: `image`.")
    image: str | None = Field(None, description="Base64 image bytes, or a data: URI.")
    url: str | None = Field(None, max_length=4096, description="http(s) URL of an image.")
    pattern: str | Pattern | None = Field(
        None,
        description="A stored pattern's name, `auto` (the best of the model's patterns), or a "
        "pattern itself: an object, or TOML text. Default: the query's `pattern`, else `auto`.",
    )
    annotate: bool = Field(False, description="Add the annotated image (base64 PNG).")

    @model_validator(mode="after")
    def _one_source(self) -> InspectRequest:
        if (self.image is None) == (self.url is None):
            raise ValueError("give exactly one of image or url")
        return self


class Position(BaseModel):
    """An expected position and what became of it. Boxes: cx, cy, w, h, fractions of the image."""

    index: int = Field(description="The object's place in the pattern's [[objects]].")
    label: str
    status: Literal["found", "misplaced", "missing"]
    expected: list[float]
    found: list[float] | None = None
    score: float | None = None
    delta: list[float] | None = Field(None, description="found - expected: dx, dy, dw, dh.")
    offset: float | None = Field(None, description="Euclidean norm of delta.")
    iou: float | None = None


class Extra(BaseModel):
    """A detection no position claimed."""

    label: str
    score: float
    box: list[float] = Field(description="cx, cy, w, h, fractions of the image.")
    counted: bool = Field(
        False, description="Its label has a count range, which judges it instead."
    )


class Count(BaseModel):
    label: str
    count: int
    min: int
    max: int
    ok: bool


class Candidate(BaseModel):
    """A pattern that was tried (several with `auto`), best first."""

    pattern: str
    decision: Decision
    errors: int
    total_offset: float


class InspectTiming(BaseModel):
    """Milliseconds per stage."""

    camera: float | None = None
    decode: float = 0.0
    preprocess: float = 0.0
    queue: float = 0.0
    infer: float = 0.0
    postprocess: float = 0.0
    match: float = 0.0


class InspectResponse(BaseModel):
    id: str = Field(description="This inspection's id (its record's, when kept).")
    time: str = Field(description="When it was judged, ISO 8601 UTC.")
    source: Literal["upload", "camera"]
    image_id: str = Field(description="The input's id: the upload's file name, say.")
    model: str
    version: str
    pattern: str = Field(description="The pattern judged by (the best one for `auto`).")
    decision: Decision
    errors: int = Field(description="Missing, misplaced, extras (unless allowed), bad counts.")
    total_offset: float
    width: int
    height: int
    positions: list[Position]
    extras: list[Extra]
    counts: list[Count] = Field(default_factory=list)
    candidates: list[Candidate]
    timing: InspectTiming
    recorded: bool = Field(False, description="Kept under FOVEA_DATA_DIR (see /v1/inspections).")
    annotated: str | None = Field(None, description="The annotated image, base64 PNG.")


class PatternInfo(BaseModel):
    name: str
    model: str | None = None
    description: str = ""
    objects: int = 0
    labels: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="Why the stored file does not load.")


class PatternList(BaseModel):
    patterns: list[PatternInfo]


class PatternDetail(BaseModel):
    name: str
    pattern: Pattern
    toml: str = Field(description="The stored file's text.")


class InspectionSummary(BaseModel):
    id: str
    time: str
    model: str
    pattern: str
    decision: Decision
    errors: int
    source: str


class InspectionList(BaseModel):
    inspections: list[InspectionSummary]


def overlay_of(answer: InspectResponse) -> Detections:
    """Boxes to draw in pixels: each position's expected box (kind `expected`) and found box
    (kind `found`), and each extra (`found`, status `extra` or `counted`); `data` carries kind,
    status and the tag to write."""
    rows: list[tuple[list[float], str, str, str, str, float]] = []
    for p in answer.positions:
        tag = f"{p.label} {p.status}"
        rows.append((p.expected, p.label, "expected", p.status, "" if p.found else tag, 1.0))
        if p.found is not None:
            rows.append((p.found, p.label, "found", p.status, tag, p.score or 0.0))
    for e in answer.extras:
        status = "counted" if e.counted else "extra"
        rows.append((e.box, e.label, "found", status, f"{e.label} {status}", e.score))
    labels = tuple(sorted({row[1] for row in rows}))
    size = np.array([answer.width, answer.height] * 2, np.float64)
    xyxy = [
        np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * size
        for (cx, cy, w, h), *_ in rows
    ]
    dets = Detections.build(
        xyxy or np.zeros((0, 4)),
        [row[5] for row in rows],
        [labels.index(row[1]) for row in rows],
        labels,
    )
    columns = {"kind": 2, "status": 3, "tag": 4}
    return dets.replace(
        data={key: np.array([row[i] for row in rows], dtype=object) for key, i in columns.items()}
    )
