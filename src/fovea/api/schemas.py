"""Request and response bodies: the JSON contract of the API (the CLI prints the same shapes)."""

from __future__ import annotations

import base64
import io
from typing import Annotated, Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fovea.model import Prediction, PredictParams, ServedModel
from fovea.repository import ModelEntry
from fovea.results import Classes, Detections, Mask, labels_of
from fovea.vision.draw import palette

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Params(BaseModel):
    """Overrides of the model's defaults for one request."""

    model_config = ConfigDict(extra="forbid")

    score_threshold: Unit | None = Field(None, description="Drop detections scoring below this.")
    iou_threshold: Unit | None = Field(None, description="NMS overlap above which boxes merge.")
    max_detections: Annotated[int, Field(ge=1, le=10_000)] | None = None
    top_k: Annotated[int, Field(ge=1, le=1000)] | None = Field(None, description="Classifiers.")
    classes: list[str] | None = Field(None, description="Keep only these labels.")

    def to_params(self) -> PredictParams:
        classes = tuple(self.classes) if self.classes is not None else None
        return PredictParams(
            self.score_threshold, self.iou_threshold, self.max_detections, self.top_k, classes
        )


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


class Detection(BaseModel):
    label: str
    class_id: int
    score: float
    box: list[float] = Field(description="x1, y1, x2, y2 in original-image pixels.")
    bbox_norm: list[float] = Field(
        description="x, y, width, height normalised to 0..1, top-left origin (MegaDetector's)."
    )
    keypoints: list[list[float]] | None = Field(None, description="x, y pixel pairs, if any.")


class ClassScore(BaseModel):
    label: str
    class_id: int
    score: float


class MaskOut(BaseModel):
    png: str = Field(description="Base64 palette PNG; pixel value = class id.")
    labels: list[str]
    fractions: dict[str, float] = Field(description="Share of the image each class covers.")
    width: int
    height: int


class Output(BaseModel):
    id: str
    width: int
    height: int
    detections: list[Detection] | None = None
    classes: list[ClassScore] | None = None
    mask: MaskOut | None = None
    timing: Timing


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
    task: Literal["detect", "classify", "segment"]
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
    status: Literal["loading", "ready", "failed", "disabled"]
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
    providers: list[str] = Field(default_factory=list)
    load_ms: float | None = None


class ModelList(BaseModel):
    models: list[ModelInfo]


def model_info(entry: ModelEntry) -> ModelInfo:
    info = ModelInfo(
        name=entry.name,
        status=entry.status,
        error=entry.error,
        versions=entry.versions,
        default_version=entry.default_version,
        load_ms=entry.load_ms,
    )
    spec = entry.spec
    if spec is None:
        return info
    served = next(iter(entry.served.values()), None)
    info.task, info.decoder, info.description = spec.task, spec.decoder, spec.description
    info.labels = list(served.labels if served else spec.reported_labels)
    info.input = InputInfo(
        size=list(spec.input.size),
        resize=spec.input.resize,
        layout=spec.input.layout,
        color=spec.input.color,
        dtype=spec.input.dtype,
        name=spec.input.name,
    )
    info.postprocess = spec.postprocess.model_dump(exclude_none=True)
    if served is not None:
        info.dynamic_batch = served.onnx.fixed_batch is None
        info.providers = served.onnx.providers
    return info


def output_of(item_id: str, prediction: Prediction, model: ServedModel) -> Output:
    width, height = prediction.size_wh
    output = Output(id=item_id, width=width, height=height, timing=Timing(**prediction.timing_ms))
    result = prediction.result
    if isinstance(result, Detections):
        output.detections = detections_of(result, model.labels, prediction.size_wh)
    elif isinstance(result, Classes):
        output.classes = [
            ClassScore(label=label, class_id=int(c), score=round(float(s), 5))
            for label, c, s in zip(
                labels_of(result.class_id, model.labels), result.class_id, result.score, strict=True
            )
        ]
    elif isinstance(result, Mask):
        output.mask = mask_of(result, model.labels)
    return output


def detections_of(
    dets: Detections, labels: tuple[str, ...], size_wh: tuple[int, int]
) -> list[Detection]:
    width, height = size_wh
    names = labels_of(dets.class_id, labels)
    out = []
    for i, name in enumerate(names):
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
        keypoints = None
        if dets.keypoints is not None:
            keypoints = [[round(float(x), 2), round(float(y), 2)] for x, y in dets.keypoints[i]]
        out.append(
            Detection(
                label=name,
                class_id=int(dets.class_id[i]),
                score=round(float(dets.score[i]), 5),
                box=[round(v, 2) for v in (x1, y1, x2, y2)],
                bbox_norm=[
                    round(v, 5)
                    for v in (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)
                ],
                keypoints=keypoints,
            )
        )
    return out


def mask_of(mask: Mask, labels: tuple[str, ...]) -> MaskOut:
    image = Image.fromarray(mask.class_map_hw)  # "L"; putpalette makes it "P"
    image.putpalette(palette(max(mask.num_classes, len(labels))).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    fractions = mask.fractions()
    names = labels_of(np.arange(mask.num_classes), labels)
    height, width = mask.class_map_hw.shape
    return MaskOut(
        png=base64.b64encode(buffer.getvalue()).decode("ascii"),
        labels=names,
        fractions={name: round(float(f), 5) for name, f in zip(names, fractions, strict=True)},
        width=width,
        height=height,
    )
