"""`model.toml`, validated: what a model is, how to feed it and how to read its outputs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from fovea.errors import ModelConfigError
from fovea.tasks import TASKS

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
# A [metadata] value: text or a number (an integer stays one); never a bool, list or table.
MetadataValue = StrictStr | StrictInt | StrictFloat


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """How an image becomes the model's input tensor."""

    size: tuple[Annotated[int, Field(ge=1, le=8192)], Annotated[int, Field(ge=1, le=8192)]]
    resize: Literal["letterbox", "stretch", "center-crop"] = "letterbox"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    color: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: Literal["float32", "float16", "uint8"] = "float32"
    pad_value: Annotated[int, Field(ge=0, le=255)] = 114
    name: str | None = None  # the graph's input name; default: its first input

    @model_validator(mode="after")
    def _std_nonzero(self) -> InputSpec:
        if any(s == 0 for s in self.std):
            raise ValueError("std must not contain 0")
        return self

    @property
    def size_wh(self) -> tuple[int, int]:
        return self.size[1], self.size[0]


class PostprocessSpec(_Strict):
    """Defaults for the request parameters, and how to read the outputs."""

    score_threshold: Unit = 0.25
    iou_threshold: Unit = 0.45
    max_detections: Annotated[int, Field(ge=1, le=10_000)] = 300
    top_k: Annotated[int, Field(ge=1)] = 5
    mask_threshold: Unit = 0.5
    output_layout: Literal["NCHW", "NHWC"] | None = None  # segment: default the input's layout
    class_offset: int = 0  # subtracted from raw class numbers (TF OD API counts from 1)


class BatchingSpec(_Strict):
    """Dynamic batching and backpressure for one model."""

    # None: 1 on CPU, where batching adds latency and activation memory but no throughput
    # (a conv net already keeps the core busy), and 8 with an accelerator.
    max_batch_size: Annotated[int, Field(ge=1, le=1024)] | None = None
    max_queue_delay_ms: Annotated[float, Field(ge=0.0, le=1000.0)] = 2.0
    max_queue: Annotated[int, Field(ge=1)] = 64  # images in progress; past it requests get 503


class RuntimeSpec(_Strict):
    """Per-model overrides of the server's runtime settings."""

    providers: tuple[str, ...] | None = None
    intra_op_threads: Annotated[int, Field(ge=0)] | None = None


class ModelSpec(_Strict):
    """The whole of a `model.toml`."""

    task: str
    decoder: str
    labels: tuple[str, ...] = ()
    labels_file: str | None = None
    class_map: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    enabled: bool = True
    version: str | None = None  # pin a version; default: the highest
    versions_dir: str = "."  # folder, relative to model.toml, holding the version folders
    input: InputSpec
    postprocess: PostprocessSpec = PostprocessSpec()
    outputs: dict[str, str] = Field(default_factory=dict)  # decoder role -> graph output name
    batching: BatchingSpec = BatchingSpec()
    runtime: RuntimeSpec = RuntimeSpec()
    # Free-form facts about the model for its users, reported as is by GET /v1/models; e.g. a
    # MegaDetector import's `detector` file name and its detection thresholds.
    metadata: dict[Annotated[str, Field(min_length=1)], MetadataValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {list(TASKS)}")
        known = TASKS[self.task].decoders
        if self.decoder not in known:
            raise ValueError(
                f"decoder {self.decoder!r} is not a {self.task} decoder; use one of {list(known)}"
            )
        if self.labels and self.labels_file:
            raise ValueError("give labels or labels_file, not both")
        unknown = sorted(set(self.class_map) - set(self.labels)) if self.labels else []
        if unknown:
            raise ValueError(f"class_map names labels the model does not have: {unknown}")
        return self

    @property
    def reported_labels(self) -> tuple[str, ...]:
        """Labels as the API reports them: class_map's targets, in first-seen order."""
        if not self.class_map:
            return self.labels
        return tuple(dict.fromkeys(self.class_map.values()))


def load_spec(model_dir: Path) -> ModelSpec:
    """Read and validate `model_dir/model.toml`, resolving `labels_file`."""
    path = model_dir / "model.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelConfigError(f"{path}: not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelConfigError(f"{path}: not valid TOML: {exc}") from exc
    labels_file = raw.get("labels_file")
    if isinstance(labels_file, str):
        raw = {**raw, "labels": _read_labels(model_dir / labels_file), "labels_file": None}
    try:
        return ModelSpec.model_validate(raw)
    except ValidationError as exc:
        raise ModelConfigError(f"{path}: {_describe(exc)}") from exc


def _read_labels(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelConfigError(f"labels_file {path}: {exc.strerror or exc}") from exc
    return [line.strip() for line in lines if line.strip()]


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "model.toml"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
