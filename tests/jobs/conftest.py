from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings


@pytest.fixture(scope="module")
def jobs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roots")


@pytest.fixture(scope="module")
def jobs_client(
    model_repo: Path, jobs_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An in-process API whose folder jobs may read `jobs_root`."""
    settings = Settings(
        model_repository=model_repo,
        workers=2,
        data_dir=tmp_path_factory.mktemp("data"),
        jobs_roots=(jobs_root,),
        jobs_max_unzipped_bytes=1_000_000,
        url_allowlist=("127.0.0.1",),
    )
    with TestClient(create_app(settings)) as client:
        yield client
