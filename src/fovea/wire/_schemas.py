"""Request and response bodies: the JSON contract of the API, shared by the server, the client, the
CLI and the UI. No server imports here: a client installs this without ONNX Runtime or FastAPI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fovea.core import Classes, Detections, Mask, Params


class InputItem(BaseModel):
    """One image: base64 (or a data URI) in `image`, or a URL in `url`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=256, description="Echoed back; default: the index.")
    image: str | None = Field(None, description="Base64 image bytes, or a data: URI.")
    url: str | None = Field(None, max_length=4096, description="http(s) URL of an image.")

    @model_validator(mode="after")
    def _one_source(self) -> InputItem:
        if (self.image is None) == (self.url is None):
            raise ValueError("give exactly one of image or url")
        return self


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inputs": [{"id": "a", "url": "https://example.org/dog.jpg"}],
                    "params": {"score_threshold": 0.4},
                }
            ]
        },
    )

    inputs: list[InputItem] = Field(min_length=1)
    params: Params = Params()


class Timing(BaseModel):
    """Milliseconds per stage for one image."""

    decode: float = 0.0
    preprocess: float = 0.0
    queue: float = 0.0
    infer: float = 0.0
    postprocess: float = 0.0


class ClassScore(BaseModel):
    label: str
    class_id: int
    score: float


class Detection(BaseModel):
    label: str
    class_id: int
    score: float
    box: list[float] = Field(description="x1, y1, x2, y2 in original-image pixels.")
    bbox_norm: list[float] = Field(
        description="x, y, width, height normalised to 0..1, top-left origin (MegaDetector's)."
    )
    keypoints: list[list[float]] | None = Field(None, description="x, y pixel pairs, if any.")
    tracker_id: int | None = Field(None, description="The object's track, when tracking.")
    classes: list[ClassScore] | None = Field(
        None, description="A pipeline's second stage: the box's top-k classes, best first."
    )


class MaskOut(BaseModel):
    png: str = Field(description="Base64 palette PNG; pixel value = class id.")
    labels: list[str]
    fractions: dict[str, float] = Field(description="Share of the image each class covers.")
    width: int
    height: int


class Output(BaseModel):
    """One image's answer; exactly one of detections, classes and mask is set."""

    id: str
    width: int
    height: int
    detections: list[Detection] | None = None
    classes: list[ClassScore] | None = None
    mask: MaskOut | None = None
    timing: Timing

    def result(self) -> Detections | Classes | Mask:
        """The answer as Fovea's result type, as the server had it (scores as rounded)."""
        from fovea.wire._convert import result_of

        return result_of(self)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "coco",
                    "version": "1",
                    "task": "detect",
                    "outputs": [
                        {
                            "id": "dog.jpg",
                            "width": 1280,
                            "height": 960,
                            "detections": [
                                {
                                    "label": "dog",
                                    "class_id": 16,
                                    "score": 0.87,
                                    "box": [412.0, 300.5, 901.2, 870.0],
                                    "bbox_norm": [0.3219, 0.3130, 0.3822, 0.5932],
                                }
                            ],
                            "timing": {
                                "decode": 3.1,
                                "preprocess": 0.9,
                                "queue": 0.0,
                                "infer": 12.4,
                                "postprocess": 0.2,
                            },
                        }
                    ],
                    "errors": {},
                }
            ]
        }
    )

    model: str
    version: str
    task: str
    outputs: list[Output]
    errors: dict[str, Problem] = Field(default_factory=dict)


class InputInfo(BaseModel):
    size: list[int]
    resize: str
    layout: str
    color: str
    dtype: str
    name: str | None = None


class ModelInfo(BaseModel):
    name: str
    status: Literal["loading", "ready", "failed", "disabled", "unloading", "unavailable"]
    error: str | None = None
    task: str | None = None
    decoder: str | None = None
    description: str = ""
    labels: list[str] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)
    default_version: str | None = None
    input: InputInfo | None = None
    postprocess: dict[str, Any] = Field(default_factory=dict)
    dynamic_batch: bool | None = None
    max_batch_size: int | None = Field(None, description="Most images stacked into one run.")
    pipeline: dict[str, Any] | None = Field(
        None, description="For a pipeline: its stages, crop rule and label map."
    )
    providers: list[str] = Field(default_factory=list)
    load_ms: float | None = None
    explain_methods: list[str] = Field(
        default_factory=list, description="What POST .../explain takes; the first is the default."
    )
    metadata: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="model.toml's [metadata] table, e.g. a MegaDetector's `detector` file name "
        "and `typical_detection_threshold`.",
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


class Readiness(BaseModel):
    ready: bool
    draining: bool
    models: dict[str, str]


class ReloadResult(BaseModel):
    """What `POST /v1/repository/reload` did; a model in `failed` whose old version was serving
    still serves it."""

    loaded: list[str] = Field(default_factory=list, description="New models.")
    reloaded: list[str] = Field(default_factory=list, description="Changed models, swapped in.")
    unloaded: list[str] = Field(default_factory=list, description="Models whose folder is gone.")
    failed: dict[str, str] = Field(default_factory=dict, description="Model name: the reason.")
