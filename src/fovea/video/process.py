"""A video through a model: frames decode in worker threads, flow through `Service.run` as decoded
`Frame`s at background priority (interactive requests keep priority), several at once, and come
back in frame order, tracked if asked. Work stops as soon as the caller is cancelled.

`process` hands each result to a callback as it is ready (the API streams them); `video_results`
collects them, for batch jobs: frame numbers and the frame rate are what MegaDetector's video
output needs (`frame_number`, `frame_rate`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from fovea.core import Detections, Params
from fovea.errors import FoveaError, ShuttingDown
from fovea.models import Prediction, Servable
from fovea.serving import Frame, Priority, Service
from fovea.tasks import DecodeContext
from fovea.video.frames import VideoFrame, VideoInfo, VideoReader, open_video
from fovea.video.options import Sampling, VideoLimits
from fovea.video.tracking import Tracker

DECODE_CHUNK = 4  # frames decoded per trip to a worker thread


@dataclass(frozen=True)
class FrameResult:
    """One processed frame: its number in the video (0-based), its time from the start, and the
    prediction (tracker ids set when tracking; the frame itself when images were kept)."""

    index: int
    time_s: float
    prediction: Prediction


Emit = Callable[[FrameResult], Awaitable[None]]


@dataclass(eq=False)
class _Pending:
    frame: VideoFrame | None  # None: the position where decoding failed
    done: anyio.Event = field(default_factory=anyio.Event)
    prediction: Prediction | None = None
    error: FoveaError | None = None


async def open_reader(
    service: Service, data: bytes, sampling: Sampling, limits: VideoLimits
) -> VideoReader:
    """Probe the video and decode its first sampled frame, in a worker thread: what cannot be
    processed at all fails here, before any answer has been sent."""

    def opened() -> VideoReader:
        reader = open_video(data, sampling.capped(limits), limits)
        try:
            reader.prime()
        except BaseException:
            reader.close()
            raise
        return reader

    reader, _ = await service.pipeline.in_worker(opened, Priority.BACKGROUND)
    return reader


async def process(
    service: Service,
    model: Servable,
    reader: VideoReader,
    context: DecodeContext,
    emit: Emit,
    *,
    tracker: Tracker | None = None,
    keep_images: bool = False,
    window: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Every sampled frame of `reader` through `model`; `emit` gets the results in frame order.
    At most `window` frames (default: twice the workers) are decoded and not yet emitted. A
    FoveaError (a damaged video, a frame over a limit, `stop()` turning true) is raised after the
    frames before it were emitted. Returns the number of frames emitted."""
    window = window or max(2, 2 * service.workers)
    send, receive = anyio.create_memory_object_stream[_Pending](window - 1)
    emitted, failure = 0, None
    async with anyio.create_task_group() as group:
        group.start_soon(_feed, service, model, reader, context, send, group, keep_images, stop)
        async with receive:
            async for pending in receive:
                await pending.done.wait()
                if pending.error is not None:
                    failure = pending.error
                    group.cancel_scope.cancel()  # frames after it are of no use
                    break
                assert pending.frame is not None
                assert pending.prediction is not None
                prediction = pending.prediction
                if tracker is not None and isinstance(prediction.result, Detections):
                    tracked = tracker.update(prediction.result, pending.frame.time_s)
                    prediction = _with_result(prediction, tracked)
                await emit(FrameResult(pending.frame.index, pending.frame.time_s, prediction))
                emitted += 1
    if failure is not None:
        raise failure
    return emitted


async def video_results(
    service: Service,
    model: Servable,
    data: bytes,
    params: Params | None = None,
    sampling: Sampling | None = None,
    limits: VideoLimits | None = None,
    *,
    track: bool = False,
) -> tuple[VideoInfo, list[FrameResult]]:
    """A whole video's results in a list, for work that is not streamed (batch jobs). Raises
    the FoveaError that stopped the video, if any (damaged, over a limit)."""
    context = model.context(params or Params())
    reader = await open_reader(service, data, sampling or Sampling(), limits or VideoLimits())
    results: list[FrameResult] = []

    async def keep(result: FrameResult) -> None:
        results.append(result)

    with reader:
        tracker = await new_tracker(reader.info) if track else None
        await process(service, model, reader, context, keep, tracker=tracker)
    return reader.info, results


async def new_tracker(info: VideoInfo) -> Tracker:
    """A tracker for this video, made in a worker thread (the first one imports OpenCV)."""
    return await anyio.to_thread.run_sync(lambda: Tracker(info.fps))


async def _feed(
    service: Service,
    model: Servable,
    reader: VideoReader,
    context: DecodeContext,
    send: MemoryObjectSendStream[_Pending],
    group: TaskGroup,
    keep_images: bool,
    stop: Callable[[], bool] | None,
) -> None:
    """Decode frames and start each one's prediction; a full `send` holds decoding back."""
    async with send:
        while True:
            try:
                if stop is not None and stop():
                    raise ShuttingDown("the server is shutting down; the video was not finished")
                frames, _ = await service.pipeline.in_worker(
                    lambda: reader.read(DECODE_CHUNK), Priority.BACKGROUND
                )
            except FoveaError as exc:
                failed = _Pending(None, error=exc)
                failed.done.set()
                await send.send(failed)
                return
            if not frames:
                return
            for frame in frames:
                pending = _Pending(frame)
                await send.send(pending)
                group.start_soon(_predict, service, model, context, pending, keep_images)


async def _predict(
    service: Service,
    model: Servable,
    context: DecodeContext,
    pending: _Pending,
    keep_images: bool,
) -> None:
    assert pending.frame is not None
    try:
        with await service.admit_background(model):
            pending.prediction = await service.run(
                model,
                Frame(pending.frame.pixels),
                context,
                Priority.BACKGROUND,
                keep_image=keep_images,
            )
    except FoveaError as exc:
        pending.error = exc
    finally:
        pending.done.set()


def _with_result(prediction: Prediction, result: Detections) -> Prediction:
    return replace(prediction, result=result)


__all__ = [
    "Emit",
    "FrameResult",
    "new_tracker",
    "open_reader",
    "process",
    "video_results",
]
