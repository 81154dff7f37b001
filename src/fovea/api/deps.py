"""Shared route dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from fovea.config import Settings
from fovea.core import QueryParams
from fovea.models import Repository
from fovea.serving import Service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _repository(request: Request) -> Repository:
    repository: Repository = request.app.state.repository
    return repository


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


SettingsDep = Annotated[Settings, Depends(_settings)]
RepositoryDep = Annotated[Repository, Depends(_repository)]
ServiceDep = Annotated[Service, Depends(_service)]
# The predict parameters in the query string: the same model, and bounds, as JSON `params`.
QueryParamsDep = Annotated[QueryParams, Query()]
