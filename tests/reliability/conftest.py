from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RunningServer, fovea_server


@pytest.fixture(scope="package")
def live(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server for the suite: small limits so the hostile cases reach them fast."""
    with fovea_server(
        model_repo,
        tmp_path_factory.mktemp("live"),
        FOVEA_MAX_REQUEST_BYTES=str(8 * 1024 * 1024),
        FOVEA_MAX_IMAGE_PIXELS="30000000",
        FOVEA_WORKERS="2",
        FOVEA_URL_TIMEOUT_S="3",
    ) as server:
        yield server
