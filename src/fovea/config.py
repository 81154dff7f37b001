"""Settings: environment variables FOVEA_*, then an optional fovea.toml, then defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fovea.inspection.camera import CameraConfig, TakePhotoParams
from fovea.runtime.onnx import RuntimeOptions
from fovea.serving import FetchPolicy
from fovea.video.options import VideoLimits
from fovea.vision import Limits


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fovea"


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every FOVEA_* variable. The README's configuration table lists them all."""

    model_config = SettingsConfigDict(
        env_prefix="FOVEA_", toml_file="fovea.toml", extra="ignore", frozen=True
    )

    model_repository: Path | None = Field(
        None, description="Folder of models; default: the bundled repository."
    )
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, description="Port the API listens on.")
    workers: int = Field(
        default_factory=_default_workers,
        description="Threads that decode and run models at once; default: the usable cores.",
    )
    intra_op_threads: int = Field(1, description="ONNX Runtime threads per model session.")
    idle_threads: int = Field(
        default_factory=_default_workers,
        description="Threads an image's inference may use while the server is otherwise idle "
        "(a second session per model on CPU); 0 turns it off. Default: the usable cores.",
    )
    providers: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        None, description="Execution providers, comma-separated; default: best available."
    )
    max_image_bytes: int = Field(20 * 1024 * 1024, description="Largest encoded image, bytes.")
    max_image_pixels: int = Field(40_000_000, description="Most pixels in one decoded image.")
    max_images_per_request: int = Field(64, description="Most images in one predict request.")
    url_timeout_s: float = Field(10.0, description="Time limit to fetch one URL input, seconds.")
    url_max_bytes: int = Field(20 * 1024 * 1024, description="Largest URL download, bytes.")
    url_allowlist: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Hosts or CIDR ranges URL inputs may reach even if private (comma list)."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    log_format: Literal["text", "json"] = Field("text", description="Log lines: text or json.")
    max_request_bytes: int = Field(100 * 1024 * 1024, description="Largest request body, bytes.")
    max_discard_bytes: int = Field(
        16 * 1024 * 1024,
        description="Most bytes of a refused request's unread body read and dropped before the "
        "connection is reused, so the client reads the answer; past it the connection closes.",
    )
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="API keys, comma-separated; when any key is set, requests need one."
    )
    api_keys_file: Path | None = Field(
        None, description="File of SHA-256 hex digests of API keys, one a line."
    )
    metrics_public: bool = Field(True, description="Serve /metrics without an API key.")
    rate_limit_per_minute: int = Field(
        0, description="Requests a minute per API key (or client address); 0 means no limit."
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Origins allowed by CORS, comma-separated; none by default."
    )
    shutdown_grace_s: float = Field(
        30.0, description="On SIGTERM, how long in-flight requests get to finish, seconds."
    )
    # Visual inspection (fovea.inspection)
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for Fovea's data (job state and uploads, inspection records, "
        "patterns); default: $XDG_DATA_HOME/fovea, else ~/.local/share/fovea.",
    )
    patterns_dir: Path | None = Field(
        None, description="Folder of inspection patterns (NAME.toml); default: DATA_DIR/patterns."
    )
    camera_url: str | None = Field(
        None, description="The Basler camera adapter (its base URL, or its take-photo URL)."
    )
    camera_params: str = Field(
        "", description="Query parameters for every photo, e.g. exposure_time_microseconds=20000."
    )
    camera_timeout_s: float = Field(
        10.0, gt=0, description="Most time one photo may take before 504 camera-timeout, seconds."
    )
    inspect_record: Literal["nok", "all", "none"] = Field(
        "nok", description="Inspections kept as image + JSON: nok, all or none."
    )
    inspect_keep: int = Field(1000, ge=1, description="Most inspection records kept (oldest go).")
    grpc_port: int | None = Field(
        None, description="Port for KServe V2 over gRPC (needs the grpc extra); off when unset."
    )
    repository_poll_s: float = Field(
        0.0,
        description="Reload the repository when its files change, checking this often, "
        "seconds; 0 turns polling off (POST /v1/repository/reload still works).",
    )
    # Video (POST /v1/models/{model}/video and WS /v1/models/{model}/stream).
    video_max_bytes: int = Field(
        100 * 1024 * 1024, description="Largest video upload or URL download, bytes."
    )
    video_max_duration_s: float = Field(
        600.0, description="Longest stretch of a video processed in one request, seconds."
    )
    video_max_frames: int = Field(10_000, description="Most frames processed in one request.")
    stream_max_in_flight: int = Field(
        8, description="Most frames in flight a WebSocket stream may ask for (max_in_flight)."
    )
    # Batch jobs (fovea.jobs).
    jobs_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="Folders that folder jobs may read, comma-separated; none: refused."
    )
    jobs_concurrent: int = Field(2, ge=1, description="Jobs that run at once; others queue.")
    jobs_max_unzipped_bytes: int = Field(
        4 * 1024**3, description="Largest total size an uploaded zip may unpack to, bytes."
    )
    explain_max_evaluations: int = Field(
        1024, ge=1, description="Most perturbed images one explanation may run through a model."
    )
    tools_dir: Path | None = Field(
        None,
        description="Where `fovea models import` keeps its tools venv (PyTorch, ~5.5 GB); "
        "default: $XDG_CACHE_HOME/fovea/tools, else ~/.cache/fovea/tools.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator(
        "providers", "url_allowlist", "api_keys", "cors_origins", "jobs_roots", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value)

    @field_validator("camera_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("camera_params")
    @classmethod
    def _camera_query(cls, value: str) -> str:
        if value:
            TakePhotoParams.from_query(value)  # a typo fails at startup, not at the first photo
        return value

    @property
    def patterns_path(self) -> Path:
        return self.patterns_dir or self.data_dir / "patterns"

    @property
    def records_path(self) -> Path:
        return self.data_dir / "inspections"

    @property
    def camera(self) -> CameraConfig | None:
        """The camera adapter to trigger, or None when FOVEA_CAMERA_URL is not set."""
        if not self.camera_url:
            return None
        params = TakePhotoParams.from_query(self.camera_params) if self.camera_params else None
        return CameraConfig.build(
            self.camera_url,
            params or TakePhotoParams(),
            self.camera_timeout_s,
            self.max_image_bytes,
        )

    @field_validator("grpc_port", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def repository_path(self) -> Path:
        from fovea.models import BUNDLED

        return self.model_repository or BUNDLED

    @property
    def limits(self) -> Limits:
        return Limits(self.max_image_bytes, self.max_image_pixels)

    @property
    def video_limits(self) -> VideoLimits:
        return VideoLimits(
            self.video_max_bytes,
            self.video_max_duration_s,
            self.video_max_frames,
            self.max_image_pixels,
        )

    @property
    def runtime(self) -> RuntimeOptions:
        return RuntimeOptions(self.providers or None, self.intra_op_threads, self.idle_threads)

    @property
    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy.build(self.url_timeout_s, self.url_max_bytes, self.url_allowlist)
