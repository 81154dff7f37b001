"""The per-request parameters, defined once with their bounds: the API (query string and JSON),
the CLI, the client and the pipeline all use this one model. None means the model's default.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fovea.errors import InvalidParameter

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Params(BaseModel):
    """Overrides of the model's defaults for one request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: Unit | None = Field(None, description="Drop detections scoring below this.")
    iou_threshold: Unit | None = Field(None, description="NMS overlap above which boxes merge.")
    max_detections: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        None, description="Most detections per image."
    )
    top_k: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Classifiers: how many classes to return."
    )
    classes: tuple[Annotated[str, Field(max_length=256)], ...] | None = Field(
        None,
        max_length=1000,
        description="Keep only these labels (a list, or one comma-separated string).",
    )

    @field_validator("classes", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # The query string gives `classes=person,dog` (and may repeat the key); JSON a list.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(part.strip() for item in value for part in str(item).split(",") if part)
        return value

    def merged(self, other: Params) -> Params:
        """Both sets together; a parameter given in both with different values is refused."""
        mine, theirs = self.model_dump(exclude_none=True), other.model_dump(exclude_none=True)
        clashes = sorted(k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k])
        if clashes:
            raise InvalidParameter(
                f"{', '.join(clashes)} given twice with different values "
                "(query string and JSON params); give each parameter once"
            )
        return Params.model_validate({**theirs, **mine})


class QueryParams(Params):
    """The same parameters read from a query string, which also carries `version` and others."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def plain(self) -> Params:
        return Params.model_validate(self.model_dump(exclude_none=True))
