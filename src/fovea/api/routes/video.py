"""Video for one model: a file (upload, raw body or URL) answered as NDJSON lines or as an
annotated MP4, and a WebSocket stream of live frames.

The file route reads and probes the video before answering, so what cannot be processed at all is
a 4xx problem; after that the answer streams, and a problem met halfway (a damaged video, the
server shutting down) is the last line. A client that disconnects stops the work at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.websockets import WebSocketDisconnect
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from fovea.api.deps import RepositoryDep, ServiceDep, SettingsDep
from fovea.api.errors import count
from fovea.api.middleware import ServingState
from fovea.api.security import Protected, presented_key
from fovea.api.streaming import Sender, WatchedResponse
from fovea.config import Settings
from fovea.core import Params, QueryParams
from fovea.errors import (
    FoveaError,
    InvalidParameter,
    InvalidRequest,
    PayloadTooLarge,
    ShuttingDown,
    UnsupportedMediaType,
)
from fovea.models import Repository, Servable
from fovea.serving import FetchPolicy, Priority, Service
from fovea.tasks import DecodeContext
from fovea.video import ndjson
from fovea.video.frames import VideoReader
from fovea.video.live import ClientGone, LiveOptions, LiveSession, problem_of
from fovea.video.options import Sampling
from fovea.video.process import Emit, FrameResult, new_tracker, open_reader, process
from fovea.video.tracking import Tracker
from fovea.vision.annotators import annotate
from fovea.wire import Problem, StreamError, StreamReady, VideoUrlRequest

router = APIRouter(prefix="/v1/models", tags=["video"])
_CHUNK = 256 * 1024
_VIDEO_TYPES = ("video/", "application/octet-stream")


class VideoQuery(QueryParams):
    """The video route's query string: the predict parameters, and which frames, how answered."""

    fps: float | None = Field(None, gt=0, le=1000, description="Frames per second to process.")
    stride: int | None = Field(None, ge=1, description="Process every stride-th frame.")
    start: float = Field(0.0, ge=0, description="Seconds from the start to begin at.")
    end: float | None = Field(None, gt=0, description="Seconds from the start to stop before.")
    max_frames: int | None = Field(None, ge=1, description="Most frames to process.")
    track: bool = Field(False, description="Track objects across frames (ByteTrack ids).")
    format: Literal["ndjson", "mp4"] = Field(
        "ndjson", description="NDJSON lines, or the annotated video (H.264 MP4)."
    )
    version: str | None = Field(None, max_length=32, description="Model version.")

    def params(self) -> Params:
        return Params.model_validate(
            self.model_dump(include=set(Params.model_fields), exclude_none=True)
        )

    def sampling(self) -> Sampling:
        return Sampling(self.fps, self.stride, self.start, self.end, self.max_frames)


class StreamQuery(VideoQuery):
    """A stream's query string: the predict parameters, the policy and the window."""

    policy: Literal["wait", "drop_oldest"] = "wait"
    max_in_flight: int = Field(2, ge=1)
    api_key: str | None = None


@router.post(
    "/{model}/video",
    summary="Run a model on the frames of a video",
    description="A video (MP4/H.264, WebM/VP9, AVI/MJPEG, MOV, anything PyAV decodes) as a "
    "multipart `file`, as the raw body (`Content-Type: video/...`), or JSON `{url, params}`. "
    "The answer is NDJSON (`application/x-ndjson`): a header line, one line per processed frame "
    "in order, then a summary line, or an error line last if the video breaks off. With "
    "`format=mp4`, the annotated video instead.",
    dependencies=[Protected],
    responses={
        200: {"content": {"application/x-ndjson": {}, "video/mp4": {}}},
        **{s: {"model": Problem} for s in (400, 404, 413, 415, 422, 501, 503)},
    },
    response_class=Response,
)
async def video(
    model: str,
    request: Request,
    repository: RepositoryDep,
    service: ServiceDep,
    settings: SettingsDep,
    query: Annotated[VideoQuery, Query()],
) -> Response:
    served = repository.get(model, query.version)
    sampling = query.sampling()
    data, json_params = await _read_video(request, service, settings)
    params = query.params() if json_params is None else query.params().merged(json_params)
    context = served.context(params)
    reader = await open_reader(service, data, sampling, settings.video_limits)
    try:
        tracked = query.track and served.spec.task == "detect"  # only boxes have tracks
        tracker = await new_tracker(reader.info) if tracked else None
    except BaseException:
        reader.close()
        raise
    state: ServingState = request.app.state.serving
    job = _Job(request, service, served, reader, context, tracker, state)
    return WatchedResponse(job.mp4 if query.format == "mp4" else job.ndjson)


class _Job:
    """One video request's work, run by WatchedResponse once the answer starts."""

    def __init__(
        self,
        request: Request,
        service: Service,
        served: Servable,
        reader: VideoReader,
        context: DecodeContext,
        tracker: Tracker | None,
        state: ServingState,
    ) -> None:
        self.request, self.service, self.served, self.reader = request, service, served, reader
        self.context, self.tracker, self.state = context, tracker, state

    async def ndjson(self, sender: Sender) -> None:
        with self.reader:
            tally = ndjson.Tally()
            headers = {"content-type": ndjson.MEDIA_TYPE, "cache-control": "no-store"}
            await sender.start(200, headers)
            info, sampling = self.reader.info, self.reader.sampling
            await sender.write(ndjson.header(self.served, info, sampling, self.tracker is not None))

            async def emit(result: FrameResult) -> None:
                tally.add(result)
                await sender.write(ndjson.frame(result))

            try:
                await self._process(emit, keep_images=False)
            except FoveaError as exc:
                count(self.request, exc)
                await sender.write(ndjson.error(exc, tally.last_frame))
            else:
                await sender.write(tally.summary(self.tracker, self.served.labels))
            await sender.end()

    async def mp4(self, sender: Sender) -> None:
        from fovea.video.encode import Mp4Writer

        info, sampling = self.reader.info, self.reader.sampling
        with self.reader, tempfile.TemporaryDirectory(prefix="fovea-video-") as folder:
            path = Path(folder) / "annotated.mp4"
            writer = Mp4Writer(path, _output_fps(info.fps, sampling), (info.width, info.height))

            async def emit(result: FrameResult) -> None:
                prediction = result.prediction
                assert prediction.image is not None
                image = prediction.image
                await self.service.pipeline.in_worker(
                    lambda: writer.write(annotate(image, prediction.result)), Priority.BACKGROUND
                )

            try:
                await self._process(emit, keep_images=True)
            except FoveaError as exc:
                writer.close(flush=False)
                count(self.request, exc)
                await sender.problem(exc, instance=self.request.url.path)
                return
            await self.service.pipeline.in_worker(writer.close, Priority.BACKGROUND)
            await _send_file(sender, path, "annotated.mp4")

    async def _process(self, emit: Emit, keep_images: bool) -> int:
        return await process(
            self.service,
            self.served,
            self.reader,
            self.context,
            emit,
            tracker=self.tracker,
            keep_images=keep_images,
            stop=lambda: self.state.draining,
        )


async def _send_file(sender: Sender, path: Path, name: str) -> None:
    size = path.stat().st_size
    headers = {
        "content-type": "video/mp4",
        "content-length": str(size),
        "content-disposition": f'inline; filename="{name}"',
    }
    await sender.start(200, headers)
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(_CHUNK):
            await sender.write(chunk)
    await sender.end()


def _output_fps(source_fps: float, sampling: Sampling) -> float:
    """The annotated video plays in real time: its rate is the rate frames were sampled at."""
    if sampling.fps is not None:
        return min(sampling.fps, source_fps) if source_fps else sampling.fps
    if sampling.stride is not None and source_fps:
        return source_fps / sampling.stride
    return source_fps


async def _read_video(
    request: Request, service: Service, settings: Settings
) -> tuple[bytes, Params | None]:
    """The video's bytes, and the JSON body's params (None unless the body is JSON)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    max_bytes = settings.video_max_bytes
    if content_type == "multipart/form-data":
        return await _upload(request, max_bytes), None
    if content_type.startswith(_VIDEO_TYPES):
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_bytes:
                raise PayloadTooLarge(
                    f"the video is over {max_bytes} bytes (FOVEA_VIDEO_MAX_BYTES)"
                )
        if not data:
            raise InvalidRequest("empty body: send the video's bytes")
        return bytes(data), None
    if content_type in ("application/json", ""):
        body = await request.body()
        try:
            parsed = VideoUrlRequest.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidRequest(
                "send a video as multipart `file`, as the body (Content-Type: video/...), or "
                f'JSON {{"url": ...}}: {exc.errors(include_url=False)[0]["msg"]}'
            ) from exc
        policy = settings.fetch_policy
        video_policy = FetchPolicy(
            policy.timeout_s, max_bytes, policy.allowed_hosts, policy.allowed_networks
        )
        return await service.download(parsed.url, video_policy), parsed.params
    raise UnsupportedMediaType(
        f"content type {content_type!r}: send multipart/form-data, video/*, or application/json"
    )


async def _upload(request: Request, max_bytes: int) -> bytes:
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file") or form.get("files")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("no video: send it in the multipart form field 'file'")
            data = await upload.read(max_bytes + 1)
    except HTTPException as exc:  # Starlette's form parser reports every problem this way
        raise InvalidRequest(f"malformed multipart body: {exc.detail}") from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the video is over {max_bytes} bytes (FOVEA_VIDEO_MAX_BYTES)")
    return data


@router.websocket("/{model}/stream")
async def stream(websocket: WebSocket, model: str) -> None:
    """Live frames in, one JSON answer per frame out (see fovea.video.live and the README)."""
    app = websocket.app
    state: ServingState = app.state.serving
    metrics = app.state.metrics
    await websocket.accept()
    try:
        served, context, options, tracker = await _open_stream(websocket, model)
    except FoveaError as exc:
        metrics.stream_connections.labels(exc.type).inc()
        metrics.errors.labels(exc.type).inc()
        error = StreamError(problem=problem_of(exc))
        await websocket.send_text(error.model_dump_json(exclude_none=True))
        await websocket.close(code=4000 + exc.status, reason=exc.title)
        return
    metrics.stream_connections.labels("accepted").inc()
    ready = StreamReady(
        model=served.name,
        version=served.version,
        task=served.spec.task,
        policy=options.policy,
        max_in_flight=options.max_in_flight,
        tracking=tracker is not None,
    )
    await websocket.send_text(ready.model_dump_json())
    frames = metrics.stream_frames

    async def send(text: str) -> None:
        try:
            await websocket.send_text(text)
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            raise ClientGone() from exc

    async def receive() -> bytes | str | None:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data: bytes | str | None = message.get("bytes")
        return data if data is not None else message.get("text", "")

    session = LiveSession(
        websocket.app.state.service,
        served,
        context,
        options,
        send,
        tracker,
        lambda outcome: frames.labels(served.name, outcome).inc(),
    )
    # A draining server waits for open streams to answer their frames and close (`working`
    # is what the drain waits for; `in_flight` keeps the idle heap trim away).
    state.in_flight += 1
    state.working += 1
    metrics.streams_open.inc()
    try:
        ended = await session.run(receive, stop=lambda: state.draining)
        if ended == "shutdown":
            await websocket.close(code=1001, reason="server shutting down")
    finally:
        state.in_flight -= 1
        state.working -= 1
        metrics.streams_open.dec()


async def _open_stream(
    websocket: WebSocket, model: str
) -> tuple[Servable, DecodeContext, LiveOptions, Tracker | None]:
    app = websocket.app
    settings: Settings = app.state.settings
    client = websocket.client.host if websocket.client else "unknown"
    app.state.guard.check(presented_key(websocket.headers, websocket.query_params), client)
    if app.state.serving.draining:
        raise ShuttingDown("the server is shutting down; connect to another instance")
    try:
        query = StreamQuery.model_validate(dict(websocket.query_params))
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise InvalidParameter(detail) from exc
    if query.max_in_flight > settings.stream_max_in_flight:
        raise InvalidParameter(
            f"max_in_flight {query.max_in_flight} is over this server's limit of "
            f"{settings.stream_max_in_flight} (FOVEA_STREAM_MAX_IN_FLIGHT)"
        )
    repository: Repository = app.state.repository
    served = repository.get(model, query.version)
    context = served.context(query.params())
    tracked = query.track and served.spec.task == "detect"
    tracker = await anyio.to_thread.run_sync(Tracker, 30.0) if tracked else None
    options = LiveOptions(query.policy, query.max_in_flight, settings.max_image_bytes)
    return served, context, options, tracker
