"""Shared route dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from fovea.config import Settings
from fovea.model import PredictParams
from fovea.repository import Repository
from fovea.service import PredictService


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _repository(request: Request) -> Repository:
    repository: Repository = request.app.state.repository
    return repository


def _service(request: Request) -> PredictService:
    service: PredictService = request.app.state.service
    return service


def _query_params(
    score_threshold: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    iou_threshold: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    max_detections: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    top_k: Annotated[int | None, Query(ge=1, le=1000)] = None,
    classes: Annotated[
        str | None, Query(description="Comma-separated labels to keep.", max_length=4096)
    ] = None,
) -> PredictParams:
    """Parameters for multipart requests; JSON requests carry them in `params`."""
    wanted = tuple(c.strip() for c in classes.split(",") if c.strip()) if classes else None
    return PredictParams(score_threshold, iou_threshold, max_detections, top_k, wanted)


SettingsDep = Annotated[Settings, Depends(_settings)]
RepositoryDep = Annotated[Repository, Depends(_repository)]
ServiceDep = Annotated[PredictService, Depends(_service)]
QueryParamsDep = Annotated[PredictParams, Depends(_query_params)]
