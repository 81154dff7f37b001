"""Python client for Fovea's API. Building requests and reading answers are plain functions;
`Client` and `AsyncClient` only do the I/O. Answers come back typed (`fovea.wire` schemas, and
`Output.result()` gives Detections, Classes or a Mask), errors as `APIError`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from fovea.core import ExplainParams, Params
from fovea.inspection.camera import TakePhotoParams
from fovea.inspection.patterns import Pattern, dump_pattern
from fovea.wire import (
    ExplainResponse,
    FrameLine,
    JobInfo,
    JobList,
    ModelInfo,
    ModelList,
    PredictResponse,
    Readiness,
    VideoError,
    VideoHeader,
    VideoSummary,
    read_video_line,
)
from fovea.wire.inspection import (
    InspectionList,
    InspectionSummary,
    InspectResponse,
    PatternDetail,
    PatternInfo,
    PatternList,
)

DEFAULT_URL = "http://127.0.0.1:8000"
ImageSource = Path | bytes | str  # a path, raw bytes, or an http(s) URL
M = TypeVar("M", bound=BaseModel)


class APIError(Exception):
    """The server answered with a problem+json error."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        self.type = str(problem.get("type", ""))
        self.title = str(problem.get("title", f"HTTP {status}"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.title}: {self.detail}")


def params_of(params: Params | None, overrides: dict[str, Any]) -> Params:
    """`params` with keyword overrides (None ones ignored), validated with the server's bounds."""
    given = {k: v for k, v in overrides.items() if v is not None}
    base = params.model_dump(exclude_none=True) if params is not None else {}
    return Params.model_validate({**base, **given})


def predict_request(
    model: str,
    images: Sequence[ImageSource],
    params: Params,
    version: str | None = None,
    action: str = "predict",
) -> dict[str, Any]:
    """httpx request arguments: multipart for files and bytes, JSON when any image is a URL."""
    url = f"/v1/models/{model}/{action}"
    query: dict[str, Any] = {"version": version} if version else {}
    if any(isinstance(i, str) for i in images):
        inputs = [_json_input(i, n) for n, i in enumerate(images)]
        body = {"inputs": inputs, "params": params.model_dump(mode="json", exclude_none=True)}
        return {"method": "POST", "url": url, "params": query, "json": body}
    values = params.model_dump(exclude_none=True)
    if "classes" in values:
        values["classes"] = ",".join(values["classes"])
    files = [("files", _file(i, n)) for n, i in enumerate(images)]
    return {"method": "POST", "url": url, "params": {**query, **values}, "files": files}


def explain_params_of(params: ExplainParams | None, overrides: dict[str, Any]) -> ExplainParams:
    """`params` with keyword overrides (None ones ignored), validated with the server's bounds;
    only what was given is sent, so the server's defaults apply to the rest."""
    given = {k: v for k, v in overrides.items() if v is not None}
    base = params.given() if params is not None else {}
    return ExplainParams.model_validate({**base, **given})


def explain_request(
    model: str,
    image: ImageSource,
    params: ExplainParams,
    version: str | None = None,
    answer_format: str = "json",
) -> dict[str, Any]:
    """httpx request arguments for explain: multipart for a file or bytes, JSON for a URL."""
    url = f"/v1/models/{model}/explain"
    query: dict[str, Any] = {"format": answer_format, **({"version": version} if version else {})}
    given = params.model_dump(mode="json", include=params.model_fields_set)
    if isinstance(image, str):
        body = {"inputs": [_json_input(image, 0)], "params": given}
        return {"method": "POST", "url": url, "params": query, "json": body}
    if "box" in given:
        given["box"] = ",".join(str(v) for v in given["box"])
    files = [("file", _file(image, 0))]
    return {"method": "POST", "url": url, "params": {**query, **given}, "files": files}


@dataclass(frozen=True)
class VideoAnswer:
    """A video's NDJSON answer: the header, the frames in order, and the summary, or the error
    that ended the video early (the frames before it are kept)."""

    header: VideoHeader
    frames: list[FrameLine]
    summary: VideoSummary | None
    error: VideoError | None

    @classmethod
    def from_lines(cls, lines: Iterable[str | bytes]) -> VideoAnswer:
        header, frames, summary, error = None, [], None, None
        for text in lines:
            if not text.strip():
                continue
            line = read_video_line(text)
            if isinstance(line, VideoHeader):
                header = line
            elif isinstance(line, FrameLine):
                frames.append(line)
            elif isinstance(line, VideoSummary):
                summary = line
            else:
                error = line
        if header is None:
            raise ValueError("the answer has no header line: not a Fovea video answer")
        return cls(header, frames, summary, error)


def video_request(
    model: str,
    video: ImageSource,
    params: Params,
    version: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """httpx request arguments for the video route: a multipart upload, or JSON for a URL.
    `options`: fps, stride, start, end, max_frames, track, format (None ones left out)."""
    query = {k: v for k, v in options.items() if v is not None}
    query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()}
    if version:
        query["version"] = version
    url = f"/v1/models/{model}/video"
    if isinstance(video, str):
        body = {"url": video, "params": params.model_dump(mode="json", exclude_none=True)}
        return {"method": "POST", "url": url, "params": query, "json": body}
    values = params.model_dump(exclude_none=True)
    if "classes" in values:
        values["classes"] = ",".join(values["classes"])
    files = [("file", _file(video, 0))]
    return {"method": "POST", "url": url, "params": {**query, **values}, "files": files}


def job_request(
    model: str,
    *,
    folder: str | None = None,
    urls: Sequence[str] | None = None,
    archive: Path | bytes | None = None,
    archive_name: str = "images.zip",
    threshold: float = 0.005,
    include_image_size: bool = False,
    include_exif_datetime: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """httpx request arguments to start a job: on a server folder, on URLs (JSON), or on a zip
    of images uploaded (multipart)."""
    if archive is not None:
        name, data = _file(archive, 0) if isinstance(archive, Path) else (archive_name, archive)
        fields = {"model": model, "threshold": str(threshold)}
        fields |= {"include_image_size": str(include_image_size).lower()}
        fields |= {"include_exif_datetime": str(include_exif_datetime).lower()}
        fields |= {"version": version} if version else {}
        return {
            "method": "POST",
            "url": "/v1/jobs",
            "files": {"file": (name, data)},
            "data": fields,
        }
    source = {"folder": folder} if folder is not None else {"urls": list(urls or [])}
    body = {
        "model": model,
        "version": version,
        "source": source,
        "threshold": threshold,
        "include_image_size": include_image_size,
        "include_exif_datetime": include_exif_datetime,
    }
    return {"method": "POST", "url": "/v1/jobs", "json": body}


def read_json(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise APIError(response.status_code, _problem(response))
    return response.json()


def read_as(response: httpx.Response, schema: type[M]) -> M:
    """The answer validated as `schema`, or APIError for a problem."""
    if response.status_code >= 400:
        raise APIError(response.status_code, _problem(response))
    return schema.model_validate_json(response.content)


def read_bytes(response: httpx.Response) -> bytes:
    if response.status_code >= 400:
        raise APIError(response.status_code, _problem(response))
    return response.content


def read_health(response: httpx.Response) -> Readiness:
    # 503 is an answer here (not ready, or draining), not an error.
    if response.status_code in (200, 503):
        return Readiness.model_validate_json(response.content)
    raise APIError(response.status_code, _problem(response))


def _render_request(
    model: str, image: ImageSource, params: Params, version: str | None, image_format: str
) -> dict[str, Any]:
    request = predict_request(model, [image], params, version, action="render")
    request["params"] = {**request["params"], "format": image_format}
    return request


def inspect_request(
    model: str,
    image: ImageSource,
    pattern: str | Pattern,
    annotate: bool = False,
    version: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """httpx request arguments: multipart for a file or bytes (sent as `filename` when given),
    JSON for a URL; an inline pattern travels as its TOML text."""
    url = f"/v1/models/{model}/inspect"
    query: dict[str, Any] = {"version": version} if version else {}
    text = dump_pattern(pattern) if isinstance(pattern, Pattern) else pattern
    if isinstance(image, str):
        body = {"url": image, "pattern": text, "annotate": annotate}
        return {"method": "POST", "url": url, "params": query, "json": body}
    form = {"pattern": text, "annotate": str(annotate).lower()}
    name, data = _file(image, 0)
    files = {"file": (filename or name, data)}
    return {"method": "POST", "url": url, "params": query, "files": files, "data": form}


def trigger_request(
    model: str | None, pattern: str | None, annotate: bool, camera: TakePhotoParams | None
) -> dict[str, Any]:
    given = {"model": model, "pattern": pattern, "annotate": str(annotate).lower()}
    query = {key: value for key, value in given.items() if value is not None}
    body = {"camera": camera.model_dump(exclude_none=True)} if camera is not None else None
    return {"method": "POST", "url": "/v1/inspect/trigger", "params": query, "json": body}


def put_pattern_request(name: str, pattern: str | Pattern) -> dict[str, Any]:
    """A pattern goes as TOML: text as given (comments kept), an object dumped."""
    text = dump_pattern(pattern) if isinstance(pattern, Pattern) else pattern
    headers = {"content-type": "application/toml"}
    return {
        "method": "PUT",
        "url": f"/v1/patterns/{name}",
        "content": text.encode(),
        "headers": headers,
    }


def inspections_query(
    decision: str | None, pattern: str | None, model: str | None, limit: int
) -> dict[str, Any]:
    given = {"decision": decision, "pattern": pattern, "model": model, "limit": limit}
    return {key: value for key, value in given.items() if value is not None}


def read_empty(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise APIError(response.status_code, _problem(response))


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
    name, data = _file(image, index)
    return {"id": name, "image": base64.b64encode(data).decode("ascii")}


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class Client:
    """Synchronous client: `Client(url).predict("coco", [Path("dog.jpg")])`."""

    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self.http = httpx.Client(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def health(self) -> Readiness:
        return read_health(self.http.get("/health/ready"))

    def models(self) -> list[ModelInfo]:
        return read_as(self.http.get("/v1/models"), ModelList).models

    def model(self, name: str) -> ModelInfo:
        return read_as(self.http.get(f"/v1/models/{name}"), ModelInfo)

    def metrics(self) -> str:
        """The Prometheus exposition text of GET /metrics."""
        return read_bytes(self.http.get("/metrics")).decode()

    def predict(
        self,
        model: str,
        images: Sequence[ImageSource],
        params: Params | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> PredictResponse:
        request = predict_request(model, images, params_of(params, overrides), version)
        return read_as(self.http.request(**request), PredictResponse)

    def render(
        self,
        model: str,
        image: ImageSource,
        image_format: str = "png",
        params: Params | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> bytes:
        """The image with the model's answer drawn on it, PNG or JPEG bytes."""
        request = _render_request(model, image, params_of(params, overrides), version, image_format)
        return read_bytes(self.http.request(**request))

    def explain(
        self,
        model: str,
        image: ImageSource,
        params: ExplainParams | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> ExplainResponse:
        """Where the model looked for one image's answer: `method`, `target` and the other
        ExplainParams as keywords; `.result()` of the answer is the Heatmap."""
        request = explain_request(model, image, explain_params_of(params, overrides), version)
        return read_as(self.http.request(**request), ExplainResponse)

    def explain_overlay(
        self,
        model: str,
        image: ImageSource,
        image_format: str = "png",
        params: ExplainParams | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> bytes:
        """The image with its explanation's heatmap over it, PNG or JPEG bytes."""
        explained = explain_params_of(params, overrides)
        request = explain_request(model, image, explained, version, image_format)
        return read_bytes(self.http.request(**request))

    # Visual inspection

    def inspect(
        self,
        model: str,
        image: ImageSource,
        pattern: str | Pattern = "auto",
        annotate: bool = False,
        version: str | None = None,
        filename: str | None = None,
    ) -> InspectResponse:
        """OK or NOK for one image against a pattern (a name, `auto`, TOML text or a Pattern)."""
        request = inspect_request(model, image, pattern, annotate, version, filename)
        return read_as(self.http.request(**request), InspectResponse)

    def trigger(
        self,
        model: str | None = None,
        pattern: str | None = None,
        annotate: bool = False,
        camera: TakePhotoParams | None = None,
    ) -> InspectResponse:
        """A photo from the server's camera, inspected."""
        request = trigger_request(model, pattern, annotate, camera)
        return read_as(self.http.request(**request), InspectResponse)

    def patterns(self, model: str | None = None) -> list[PatternInfo]:
        query = {"model": model} if model else {}
        return read_as(self.http.get("/v1/patterns", params=query), PatternList).patterns

    def pattern(self, name: str) -> PatternDetail:
        return read_as(self.http.get(f"/v1/patterns/{name}"), PatternDetail)

    def put_pattern(self, name: str, pattern: str | Pattern) -> PatternDetail:
        return read_as(self.http.request(**put_pattern_request(name, pattern)), PatternDetail)

    def delete_pattern(self, name: str) -> None:
        read_empty(self.http.delete(f"/v1/patterns/{name}"))

    def inspections(
        self,
        decision: str | None = None,
        pattern: str | None = None,
        model: str | None = None,
        limit: int = 50,
    ) -> list[InspectionSummary]:
        query = inspections_query(decision, pattern, model, limit)
        return read_as(self.http.get("/v1/inspections", params=query), InspectionList).inspections

    def inspection(self, inspection_id: str) -> InspectResponse:
        return read_as(self.http.get(f"/v1/inspections/{inspection_id}"), InspectResponse)

    def inspection_image(self, inspection_id: str) -> bytes:
        return read_bytes(self.http.get(f"/v1/inspections/{inspection_id}/image"))

    def video(
        self,
        model: str,
        video: ImageSource,
        params: Params | None = None,
        version: str | None = None,
        *,
        fps: float | None = None,
        stride: int | None = None,
        start: float | None = None,
        end: float | None = None,
        max_frames: int | None = None,
        track: bool = False,
        **overrides: Any,
    ) -> VideoAnswer:
        """A video (path, bytes or URL) through a model: every processed frame's result."""
        request = video_request(
            model,
            video,
            params_of(params, overrides),
            version,
            fps=fps,
            stride=stride,
            start=start,
            end=end,
            max_frames=max_frames,
            track=track,
        )
        with self.http.stream(**request) as response:
            if response.status_code >= 400:
                response.read()
                raise APIError(response.status_code, _problem(response))
            return VideoAnswer.from_lines(response.iter_lines())

    def video_mp4(
        self,
        model: str,
        video: ImageSource,
        params: Params | None = None,
        version: str | None = None,
        *,
        fps: float | None = None,
        track: bool = False,
        **overrides: Any,
    ) -> bytes:
        """The video with the results drawn on it: H.264 MP4 bytes."""
        request = video_request(
            model,
            video,
            params_of(params, overrides),
            version,
            fps=fps,
            track=track,
            format="mp4",
        )
        return read_bytes(self.http.request(**request))

    def start_job(self, model: str, **source: Any) -> JobInfo:
        """A batch job on `folder=` (on the server), `urls=` or `archive=` (a zip); see
        `job_request` for the options."""
        return read_as(self.http.request(**job_request(model, **source)), JobInfo)

    def jobs(self) -> list[JobInfo]:
        return read_as(self.http.get("/v1/jobs"), JobList).jobs

    def job(self, job: str) -> JobInfo:
        return read_as(self.http.get(f"/v1/jobs/{job}"), JobInfo)

    def cancel_job(self, job: str) -> JobInfo:
        return read_as(self.http.delete(f"/v1/jobs/{job}"), JobInfo)

    def job_results(self, job: str, format: str = "megadetector", threshold: float = 0.0) -> bytes:
        """The results so far: MegaDetector JSON, or a COCO/YOLO/VOC zip, or CSV bytes."""
        query: dict[str, str | float] = {"format": format, "threshold": threshold}
        return read_bytes(self.http.get(f"/v1/jobs/{job}/results", params=query))

    def job_image(self, job: str, file: str) -> bytes:
        return read_bytes(self.http.get(f"/v1/jobs/{job}/image", params={"file": file}))


class AsyncClient:
    """Asynchronous twin of Client, method for method."""

    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def health(self) -> Readiness:
        return read_health(await self.http.get("/health/ready"))

    async def models(self) -> list[ModelInfo]:
        return read_as(await self.http.get("/v1/models"), ModelList).models

    async def model(self, name: str) -> ModelInfo:
        return read_as(await self.http.get(f"/v1/models/{name}"), ModelInfo)

    async def metrics(self) -> str:
        return read_bytes(await self.http.get("/metrics")).decode()

    async def predict(
        self,
        model: str,
        images: Sequence[ImageSource],
        params: Params | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> PredictResponse:
        request = predict_request(model, images, params_of(params, overrides), version)
        return read_as(await self.http.request(**request), PredictResponse)

    async def render(
        self,
        model: str,
        image: ImageSource,
        image_format: str = "png",
        params: Params | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> bytes:
        request = _render_request(model, image, params_of(params, overrides), version, image_format)
        return read_bytes(await self.http.request(**request))

    async def explain(
        self,
        model: str,
        image: ImageSource,
        params: ExplainParams | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> ExplainResponse:
        request = explain_request(model, image, explain_params_of(params, overrides), version)
        return read_as(await self.http.request(**request), ExplainResponse)

    async def explain_overlay(
        self,
        model: str,
        image: ImageSource,
        image_format: str = "png",
        params: ExplainParams | None = None,
        version: str | None = None,
        **overrides: Any,
    ) -> bytes:
        explained = explain_params_of(params, overrides)
        request = explain_request(model, image, explained, version, image_format)
        return read_bytes(await self.http.request(**request))

    # Visual inspection

    async def inspect(
        self,
        model: str,
        image: ImageSource,
        pattern: str | Pattern = "auto",
        annotate: bool = False,
        version: str | None = None,
        filename: str | None = None,
    ) -> InspectResponse:
        """OK or NOK for one image against a pattern (a name, `auto`, TOML text or a Pattern)."""
        request = inspect_request(model, image, pattern, annotate, version, filename)
        return read_as(await self.http.request(**request), InspectResponse)

    async def trigger(
        self,
        model: str | None = None,
        pattern: str | None = None,
        annotate: bool = False,
        camera: TakePhotoParams | None = None,
    ) -> InspectResponse:
        """A photo from the server's camera, inspected."""
        request = trigger_request(model, pattern, annotate, camera)
        return read_as(await self.http.request(**request), InspectResponse)

    async def patterns(self, model: str | None = None) -> list[PatternInfo]:
        query = {"model": model} if model else {}
        return read_as(await self.http.get("/v1/patterns", params=query), PatternList).patterns

    async def pattern(self, name: str) -> PatternDetail:
        return read_as(await self.http.get(f"/v1/patterns/{name}"), PatternDetail)

    async def put_pattern(self, name: str, pattern: str | Pattern) -> PatternDetail:
        return read_as(await self.http.request(**put_pattern_request(name, pattern)), PatternDetail)

    async def delete_pattern(self, name: str) -> None:
        read_empty(await self.http.delete(f"/v1/patterns/{name}"))

    async def inspections(
        self,
        decision: str | None = None,
        pattern: str | None = None,
        model: str | None = None,
        limit: int = 50,
    ) -> list[InspectionSummary]:
        query = inspections_query(decision, pattern, model, limit)
        return read_as(
            await self.http.get("/v1/inspections", params=query), InspectionList
        ).inspections

    async def inspection(self, inspection_id: str) -> InspectResponse:
        return read_as(await self.http.get(f"/v1/inspections/{inspection_id}"), InspectResponse)

    async def inspection_image(self, inspection_id: str) -> bytes:
        return read_bytes(await self.http.get(f"/v1/inspections/{inspection_id}/image"))

    async def video(
        self,
        model: str,
        video: ImageSource,
        params: Params | None = None,
        version: str | None = None,
        *,
        fps: float | None = None,
        stride: int | None = None,
        start: float | None = None,
        end: float | None = None,
        max_frames: int | None = None,
        track: bool = False,
        **overrides: Any,
    ) -> VideoAnswer:
        request = video_request(
            model,
            video,
            params_of(params, overrides),
            version,
            fps=fps,
            stride=stride,
            start=start,
            end=end,
            max_frames=max_frames,
            track=track,
        )
        async with self.http.stream(**request) as response:
            if response.status_code >= 400:
                await response.aread()
                raise APIError(response.status_code, _problem(response))
            return VideoAnswer.from_lines([line async for line in response.aiter_lines()])

    async def video_mp4(
        self,
        model: str,
        video: ImageSource,
        params: Params | None = None,
        version: str | None = None,
        *,
        fps: float | None = None,
        track: bool = False,
        **overrides: Any,
    ) -> bytes:
        request = video_request(
            model,
            video,
            params_of(params, overrides),
            version,
            fps=fps,
            track=track,
            format="mp4",
        )
        return read_bytes(await self.http.request(**request))

    async def start_job(self, model: str, **source: Any) -> JobInfo:
        return read_as(await self.http.request(**job_request(model, **source)), JobInfo)

    async def jobs(self) -> list[JobInfo]:
        return read_as(await self.http.get("/v1/jobs"), JobList).jobs

    async def job(self, job: str) -> JobInfo:
        return read_as(await self.http.get(f"/v1/jobs/{job}"), JobInfo)

    async def cancel_job(self, job: str) -> JobInfo:
        return read_as(await self.http.delete(f"/v1/jobs/{job}"), JobInfo)

    async def job_results(
        self, job: str, format: str = "megadetector", threshold: float = 0.0
    ) -> bytes:
        query: dict[str, str | float] = {"format": format, "threshold": threshold}
        return read_bytes(await self.http.get(f"/v1/jobs/{job}/results", params=query))

    async def job_image(self, job: str, file: str) -> bytes:
        return read_bytes(await self.http.get(f"/v1/jobs/{job}/image", params={"file": file}))
