from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.servers import api_server


@pytest.fixture(scope="session")
def synthetic_api(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API over the synthetic repository (every task, and two broken models)."""
    with api_server(model_repo, tmp_path_factory.mktemp("synthetic-api")) as url:
        yield url


@pytest.fixture(scope="session")
def inspection_api(inspect_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API over the planted boards, its camera the real emulator, every inspection kept,
    and two patterns stored: `board` (OK) and `board-missing` (NOK)."""
    from fovea.client import Client
    from tests.inspection.cameras import emulated_camera, photo_folder
    from tests.inspection.planted import BOARD_PATTERN, MISSING_PATTERN

    root = tmp_path_factory.mktemp("inspection-api")
    with (
        emulated_camera(photo_folder(root / "photos"), root) as camera,
        api_server(inspect_repo, root, FOVEA_CAMERA_URL=camera, FOVEA_INSPECT_RECORD="all") as url,
    ):
        with Client(url) as client:
            client.put_pattern("board", BOARD_PATTERN)
            client.put_pattern("board-missing", MISSING_PATTERN)
        yield url
