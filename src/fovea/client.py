"""Python client for Fovea's API. Building requests and reading answers are plain functions;
`Client` and `AsyncClient` only do the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
ImageSource = Path | bytes | str  # a path, raw bytes, or an http(s) URL


class APIError(Exception):
    """The server answered with a problem+json error."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        self.type = str(problem.get("type", ""))
        self.title = str(problem.get("title", f"HTTP {status}"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.title}: {self.detail}")


def predict_request(
    model: str, images: Sequence[ImageSource], params: dict[str, Any], version: str | None = None
) -> dict[str, Any]:
    """httpx request arguments: multipart for files and bytes, JSON when any image is a URL."""
    params = {k: v for k, v in params.items() if v is not None}
    url = f"/v1/models/{model}/predict"
    query = {"version": version} if version else {}
    if any(isinstance(i, str) for i in images):
        inputs = [_json_input(i, n) for n, i in enumerate(images)]
        return {
            "method": "POST",
            "url": url,
            "params": query,
            "json": {"inputs": inputs, "params": params},
        }
    files = [("files", _file(i, n)) for n, i in enumerate(images)]
    if "classes" in params:
        params["classes"] = ",".join(params["classes"])
    return {"method": "POST", "url": url, "params": {**query, **params}, "files": files}


def read_json(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise APIError(response.status_code, _problem(response))
    return response.json()


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"title": response.reason_phrase, "detail": response.text[:500]}


def _file(image: ImageSource, index: int) -> tuple[str, bytes]:
    if isinstance(image, Path):
        return image.name, image.read_bytes()
    assert isinstance(image, bytes)
    return f"image-{index}", image


def _json_input(image: ImageSource, index: int) -> dict[str, str]:
    if isinstance(image, str):
        return {"id": str(index), "url": image}
    import base64

    name, data = _file(image, index)
    return {"id": name, "image": base64.b64encode(data).decode("ascii")}


class Client:
    """Synchronous client: `Client(url).predict("coco", [Path("dog.jpg")])`."""

    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def health(self) -> dict[str, Any]:
        response = self.http.get("/health/ready")
        return dict(response.json()) if response.status_code in (200, 503) else read_json(response)

    def models(self) -> list[dict[str, Any]]:
        return list(read_json(self.http.get("/v1/models"))["models"])

    def metrics(self) -> str:
        """The Prometheus exposition text of GET /metrics."""
        response = self.http.get("/metrics")
        if response.status_code >= 400:
            raise APIError(response.status_code, _problem(response))
        return response.text

    def model(self, name: str) -> dict[str, Any]:
        return dict(read_json(self.http.get(f"/v1/models/{name}")))

    def predict(
        self, model: str, images: Sequence[ImageSource], version: str | None = None, **params: Any
    ) -> dict[str, Any]:
        return dict(read_json(self.http.request(**predict_request(model, images, params, version))))

    def render(
        self, model: str, image: ImageSource, image_format: str = "png", **params: Any
    ) -> bytes:
        request = predict_request(model, [image], params)
        request["url"] = f"/v1/models/{model}/render"
        request["params"] = {**request["params"], "format": image_format}
        response = self.http.request(**request)
        if response.status_code >= 400:
            raise APIError(response.status_code, _problem(response))
        return response.content


class AsyncClient:
    """Asynchronous twin of Client."""

    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def models(self) -> list[dict[str, Any]]:
        return list(read_json(await self.http.get("/v1/models"))["models"])

    async def predict(
        self, model: str, images: Sequence[ImageSource], version: str | None = None, **params: Any
    ) -> dict[str, Any]:
        request = predict_request(model, images, params, version)
        return dict(read_json(await self.http.request(**request)))
