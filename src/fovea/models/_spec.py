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
from fovea.runtime.remote_options import RemoteOptions
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
    # bf16 runs the same ONNX file on OpenVINO (CPUs with AVX-512 BF16 or AMX); int8 is a
    # separate version written by `fovea models quantize`, run like any fp32 file.
    precision: Literal["fp32", "bf16"] = "fp32"


class BackendSpec(_Strict):
    """A remote KServe V2 server (Triton, KServe, another Fovea) that runs the graph: Fovea
    decodes, prepares and post-processes here and sends it only tensors."""

    url: Annotated[str, Field(min_length=1)]  # http://host:port, or host:port for grpc
    model: Annotated[str, Field(min_length=1)]  # the model's name on the remote server
    version: str = ""  # the remote's version; empty: the one it serves by default
    protocol: Literal["http", "grpc"] = "http"
    timeout_s: Annotated[float, Field(gt=0.0, le=600.0)] = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2  # more tries for a call that did not arrive
    max_connections: Annotated[int, Field(ge=1, le=1024)] = 16
    breaker_failures: Annotated[int, Field(ge=1)] = 3  # failed calls in a row that open it
    breaker_reset_s: Annotated[float, Field(ge=0.0)] = 10.0  # then one call may try again

    @property
    def options(self) -> RemoteOptions:
        return RemoteOptions(**self.model_dump())


class ExplainSpec(_Strict):
    """What explanations may use beyond the decoder's outputs."""

    # A graph output holding a convolutional activation (N, C, h, w) for Score-CAM; checked
    # against the graph when the model loads.
    activation: str | None = Field(None, min_length=1)


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
    backend: BackendSpec | None = None  # a remote server runs the graph instead of model.onnx
    explain: ExplainSpec = ExplainSpec()
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


class CropSpec(_Strict):
    """How a detected box becomes the classifier's image."""

    padding: Annotated[float, Field(ge=0.0, le=2.0)] = 0.1  # of the box's size, on each side
    square: bool = True  # grow the shorter side to the longer, so the object is not squashed
    min_size: Annotated[int, Field(ge=1)] = (
        16  # boxes whose shorter side is smaller: not classified
    )


class PipelineSpec(_Strict):
    """A detector, then a classifier on each box of the chosen labels."""

    detector: str
    classifier: str
    classify: tuple[str, ...] = ()  # detector labels whose boxes are classified; empty: every box
    crop: CropSpec = CropSpec()
    top_k: Annotated[int, Field(ge=1, le=100)] = 3
    # Classifier label -> reported label. When given, only these labels are considered, and the
    # probabilities of labels reported under one name add up.
    label_map: dict[str, str] = Field(default_factory=dict)
    min_score: Unit = 0.0  # a box whose best class scores less is reported as `unknown_label`
    unknown_label: str = "unknown"


class PipelineModelSpec(_Strict):
    """A `model.toml` that declares a pipeline of other models instead of weights."""

    task: Literal["detect"] = "detect"
    description: str = ""
    enabled: bool = True
    pipeline: PipelineSpec
    batching: BatchingSpec = BatchingSpec()  # its own admission limit (max_queue)

    @property
    def versions_dir(self) -> str:
        return "."

    @property
    def version(self) -> str | None:
        return None


AnySpec = ModelSpec | PipelineModelSpec


def load_spec(model_dir: Path) -> AnySpec:
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
        if "pipeline" in raw:
            return PipelineModelSpec.model_validate(raw)
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
