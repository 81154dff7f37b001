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

from fovea.runtime.onnx import RuntimeOptions
from fovea.serving import FetchPolicy
from fovea.vision import Limits


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


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

    @field_validator("providers", "url_allowlist", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value)

    @property
    def repository_path(self) -> Path:
        from fovea.models import BUNDLED

        return self.model_repository or BUNDLED

    @property
    def limits(self) -> Limits:
        return Limits(self.max_image_bytes, self.max_image_pixels)

    @property
    def runtime(self) -> RuntimeOptions:
        return RuntimeOptions(self.providers or None, self.intra_op_threads)

    @property
    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy.build(self.url_timeout_s, self.url_max_bytes, self.url_allowlist)
