"""A video-ready app: the synthetic models, the slow one, and the bundled `coco`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.models import BUNDLED


@pytest.fixture(scope="package")
def repository(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic models and the bundled `coco`, for real objects in real photos."""
    root = tmp_path_factory.mktemp("video-repo")
    names = ("yolov8-test", "colour-test", "colour-batched", "red-test", "overload-test")
    for name in (*names, "broken-onnx"):
        (root / name).symlink_to(model_repo / name)
    (root / "coco").symlink_to(BUNDLED / "coco")
    return root


@pytest.fixture(scope="package")
def api(repository: Path) -> Iterator[TestClient]:
    settings = Settings(
        model_repository=repository,
        workers=2,
        video_max_frames=100,
        url_allowlist=("127.0.0.1",),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client
