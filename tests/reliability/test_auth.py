"""With API keys set, every route in the OpenAPI schema refuses a request without one, except
the documented open ones (health, and metrics while public)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fovea.api.app import create_app
from fovea.config import Settings

OPEN = {"/health/live", "/health/ready", "/metrics", "/v2/health/live", "/v2/health/ready"}


@pytest.fixture(scope="module")
def keyed(model_repo: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model_repository=model_repo, api_keys="s3cret"))) as c:
        yield c


def _routes() -> list[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, methods in paths.items() for method in methods]


@pytest.mark.parametrize(("method", "path"), _routes())
def test_every_route_needs_a_key_unless_documented_open(
    keyed: TestClient, method: str, path: str
) -> None:
    concrete = re.sub(r"\{model\}", "yolov8-test", re.sub(r"\{slug\}", "overloaded", path))
    response = keyed.request(method, concrete)
    if path in OPEN:
        assert response.status_code != 401
    else:
        assert response.status_code == 401, (method, path, response.status_code)
        if path.startswith("/v2"):  # KServe V2's own error form
            assert "API key" in response.json()["error"]
        else:
            assert response.json()["type"] == "/problems/unauthorized"
        keyed_response = keyed.request(method, concrete, headers={"X-API-Key": "s3cret"})
        assert keyed_response.status_code != 401


def test_the_schema_documents_both_key_schemes(keyed: TestClient) -> None:
    schemes = keyed.get("/openapi.json", headers={"X-API-Key": "s3cret"}).json()
    assert set(schemes["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
