"""The parameters of one explanation, defined once with their bounds: the API (query string and
JSON), the client and the UI use this model; the method modules take its plain values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fovea.errors import InvalidParameter

Method = Literal["scorecam", "rise", "occlusion", "drise"]
Colormap = Literal["inferno", "viridis"]
CLASSIFIER_METHODS: tuple[Method, ...] = ("scorecam", "rise", "occlusion")
DETECTOR_METHODS: tuple[Method, ...] = ("drise",)


class ExplainParams(BaseModel):
    """How to explain one answer; every field has a default that fits the time budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method | None = Field(
        None,
        description="scorecam, rise or occlusion for classifiers; drise for detectors. Default: "
        "scorecam where model.toml names an activation output, else rise; drise for detectors.",
    )
    target: str | None = Field(
        None,
        max_length=256,
        description="The class label to explain; default: the top class (for detectors, the "
        "class of the box).",
    )
    box_index: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        None,
        description="Detectors: which detection to explain, in predict's order (best first); "
        "default 0.",
    )
    box: tuple[float, float, float, float] | None = Field(
        None, description="Detectors: explain this box instead: x1,y1,x2,y2 in image pixels."
    )
    masks: int = Field(
        64, ge=8, le=4000, description="rise, drise: random masks, one model run each."
    )
    grid: int = Field(7, ge=2, le=32, description="rise, drise: mask cells per side.")
    keep: float = Field(
        0.5, gt=0.0, lt=1.0, description="rise, drise: share of the cells each mask keeps."
    )
    seed: int = Field(
        0, ge=0, le=2**32 - 1, description="rise, drise: the same seed draws the same masks."
    )
    channels: int = Field(
        32,
        ge=1,
        le=4096,
        description="scorecam: activation channels scored (the most active), one run each.",
    )
    window: int = Field(
        64, ge=4, le=4096, description="occlusion: side of the blank square, model-input pixels."
    )
    stride: int = Field(
        32, ge=2, le=4096, description="occlusion: step between squares, model-input pixels."
    )
    opacity: float = Field(0.5, ge=0.0, le=1.0, description="Overlay: heatmap opacity.")
    colormap: Colormap = Field("inferno", description="Overlay: inferno or viridis.")

    @field_validator("box", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # The query string gives `box=10,20,300,400` (or the key four times); JSON a list.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(part for item in value for part in str(item).split(",") if part.strip())
        return value

    def merged(self, other: ExplainParams) -> ExplainParams:
        """Both sets together (only what each was given); a parameter given in both with
        different values is refused."""
        mine, theirs = self.given(), other.given()
        clashes = sorted(k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k])
        if clashes:
            raise InvalidParameter(
                f"{', '.join(clashes)} given twice with different values "
                "(query string and JSON params); give each parameter once"
            )
        return ExplainParams.model_validate({**theirs, **mine})

    def given(self) -> dict[str, Any]:
        """The parameters set explicitly, as plain values."""
        return self.model_dump(include=self.model_fields_set)


class ExplainQuery(ExplainParams):
    """The same parameters read from a query string, which also carries `version` and others."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def plain(self) -> ExplainParams:
        return ExplainParams.model_validate(self.given())
