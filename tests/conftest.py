from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings
from tests.helpers import build_repository
from tests.inspection import planted
from tests.video.clips import Clips, make_clips


@pytest.fixture(scope="session", autouse=True)
def _jobs_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers started by any test keep job state in a temporary folder, never in the user's
    own data folder (where they would resume someone's real jobs)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FOVEA_DATA_DIR", str(tmp_path_factory.mktemp("fovea-data")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repository(tmp_path_factory.mktemp("repo") / "models")


@pytest.fixture(scope="session")
def inspect_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Planted-board detectors for inspection (tests/inspection/planted.py)."""
    return planted.build(tmp_path_factory.mktemp("inspect"))


@pytest.fixture(scope="session")
def client(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        model_repository=model_repo,
        workers=2,
        max_images_per_request=8,
        max_image_pixels=30_000_000,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Video clips panning across real photos, in several codecs, and broken ones (see
    tests/video/clips.py); made once per session."""
    return make_clips(tmp_path_factory.mktemp("clips"))
