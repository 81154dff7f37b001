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
