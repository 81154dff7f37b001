"""The batch jobs' JSON contract: the request that starts a job and the job's status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fovea.core import Params

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class JobSource(BaseModel):
    """A folder on the server (under FOVEA_JOBS_ROOTS), or a list of image URLs."""

    model_config = ConfigDict(extra="forbid")

    folder: str | None = Field(None, max_length=4096, description="Absolute path on the server.")
    urls: list[str] | None = Field(None, min_length=1, description="http(s) image URLs.")
    recursive: bool = Field(True, description="Folders: look in subfolders too.")

    @model_validator(mode="after")
    def _one_source(self) -> JobSource:
        if (self.folder is None) == (self.urls is None):
            raise ValueError("give exactly one of folder or urls")
        return self


class JobRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"model": "coco-camtrap", "source": {"folder": "/data/traps/site-3"}},
                {"model": "coco-camtrap", "source": {"urls": ["https://example.org/a.jpg"]}},
            ]
        },
    )

    model: str = Field(max_length=256)
    version: str | None = Field(None, max_length=32)
    source: JobSource
    params: Params = Params()
    threshold: float = Field(0.005, ge=0.0, le=1.0, description="Keep detections from this conf.")
    include_image_size: bool = False
    include_exif_datetime: bool = False


class JobInfo(BaseModel):
    id: str
    state: JobState
    model: str
    version: str | None = None
    source: dict[str, Any]
    total: int
    done: int = Field(description="Images finished, failures included.")
    failed: int
    images_per_s: float | None = Field(None, description="Since the job (re)started running.")
    eta_s: float | None = Field(None, description="Seconds left at that rate.")
    created: float = Field(description="Unix time.")
    finished: float | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[JobInfo]
