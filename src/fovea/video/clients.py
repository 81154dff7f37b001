"""The three ways a client sends a video's frames to a server, timed: `sequential` (one frame per
request, in order), `concurrent` (requests of N frames, K at once) and `stream` (the WebSocket,
K frames in flight). Frames are decoded here with PyAV and sent as JPEG, as a camera app would.
A frame's latency is from when it was sent to when its answer arrived.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
import numpy as np
import numpy.typing as npt
from PIL import Image

from fovea.core import Params
from fovea.video.frames import open_video
from fovea.video.options import Sampling, VideoLimits
from fovea.wire import Output, PredictResponse, StreamResult, read_stream_message

Mode = Literal["sequential", "concurrent", "stream"]
MODES: tuple[Mode, ...] = ("sequential", "concurrent", "stream")
MAX_TRIES = 30  # a request refused with 503 is sent again after Retry-After, this many times


@dataclass(frozen=True)
class ClipFrames:
    """A clip decoded once: each sampled frame's number, time, pixels and JPEG bytes."""

    indices: list[int]
    times_s: list[float]
    pixels: list[npt.NDArray[np.uint8]]
    jpegs: list[bytes]
    fps: float


@dataclass
class ModeResult:
    mode: Mode
    streams: int
    frames: int = 0
    errors: int = 0
    refused: int = 0  # 503 answers (the model's queue was full), each retried after Retry-After
    total_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    outputs: dict[int, Output] = field(default_factory=dict)  # the first stream's, by frame

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.total_s if self.total_s else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def load_clip(path: Path, sampling: Sampling | None = None, quality: int = 90) -> ClipFrames:
    limits = VideoLimits(max_bytes=1 << 40, max_duration_s=1e9, max_frames=1 << 30)
    clip = ClipFrames([], [], [], [], 0.0)
    with open_video(path.read_bytes(), sampling or Sampling(), limits) as reader:
        while frames := reader.read(16):
            for frame in frames:
                buffer = io.BytesIO()
                Image.fromarray(frame.pixels).save(buffer, format="JPEG", quality=quality)
                clip.indices.append(frame.index)
                clip.times_s.append(frame.time_s)
                clip.pixels.append(frame.pixels)
                clip.jpegs.append(buffer.getvalue())
        return ClipFrames(clip.indices, clip.times_s, clip.pixels, clip.jpegs, reader.info.fps)


async def run_mode(
    url: str,
    model: str,
    clip: ClipFrames,
    mode: Mode,
    *,
    streams: int = 1,
    batch: int = 8,
    concurrency: int = 4,
    params: Params | None = None,
    api_key: str | None = None,
) -> ModeResult:
    """`streams` clients at once, each sending the whole clip in `mode`."""
    result = ModeResult(mode, streams)
    query = _query(params or Params())
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=streams * concurrency + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, headers=headers, limits=limits) as http:
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for number in range(streams):
                keep = result.outputs if number == 0 else None
                if mode == "stream":
                    ws_url = url.replace("http", "ws", 1) + f"/v1/models/{model}/stream"
                    group.start_soon(
                        _stream, ws_url, clip, concurrency, query, headers, result, keep
                    )
                else:
                    size = 1 if mode == "sequential" else batch
                    lanes = 1 if mode == "sequential" else concurrency
                    send = _Requests(http, model, clip, size, query, result, keep)
                    group.start_soon(send.run, lanes)
        result.total_s = time.perf_counter() - started
    return result


@dataclass
class _Requests:
    http: httpx.AsyncClient
    model: str
    clip: ClipFrames
    size: int
    query: dict[str, Any]
    result: ModeResult
    keep: dict[int, Output] | None

    async def run(self, lanes: int) -> None:
        starts = list(range(0, len(self.clip.jpegs), self.size))
        async with anyio.create_task_group() as group:
            for lane in range(lanes):
                group.start_soon(self._lane, starts[lane::lanes])

    async def _lane(self, starts: Sequence[int]) -> None:
        for start in starts:
            chosen = range(start, min(start + self.size, len(self.clip.jpegs)))
            files = [("files", (f"{i}.jpg", self.clip.jpegs[i], "image/jpeg")) for i in chosen]
            sent = time.perf_counter()
            answer = await self._post(files)
            elapsed_ms = (time.perf_counter() - sent) * 1000
            if answer.status_code != 200:
                self.result.errors += len(chosen)
                continue
            outputs = PredictResponse.model_validate_json(answer.content).outputs
            self.result.frames += len(outputs)
            self.result.errors += len(chosen) - len(outputs)
            self.result.latencies_ms += [elapsed_ms] * len(outputs)
            if self.keep is not None:
                for output in outputs:
                    self.keep[int(output.id.split(".")[0])] = output

    async def _post(self, files: list[Any]) -> httpx.Response:
        """The request, sent again after Retry-After while the server sheds load (503), as a
        well-behaved client does; a frame's latency includes that wait."""
        for _ in range(MAX_TRIES - 1):
            answer = await self.http.post(
                f"/v1/models/{self.model}/predict", files=files, params=self.query
            )
            retry_after = answer.headers.get("retry-after", "")
            if answer.status_code != 503 or not retry_after.isdigit():
                return answer
            self.result.refused += 1
            await anyio.sleep(int(retry_after))
        return await self.http.post(
            f"/v1/models/{self.model}/predict", files=files, params=self.query
        )


async def _stream(
    url: str,
    clip: ClipFrames,
    window: int,
    query: dict[str, Any],
    headers: dict[str, str],
    result: ModeResult,
    keep: dict[int, Output] | None,
) -> None:
    """The client keeps at most `window` frames unanswered, so every latency is the server's
    own time plus the network, not time spent queued in a socket buffer."""
    from websockets.asyncio.client import connect

    full = f"{url}?{httpx.QueryParams({**query, 'max_in_flight': window, 'policy': 'wait'})}"
    sent_at: dict[int, float] = {}
    async with connect(full, additional_headers=headers, max_size=None) as ws:
        hello = read_stream_message(await ws.recv())
        if hello.type == "error":
            raise RuntimeError(f"the stream was refused: {hello.problem.detail}")
        for seq, jpeg in enumerate(clip.jpegs):
            sent_at[seq] = time.perf_counter()
            await ws.send(jpeg)
            if len(sent_at) >= window:
                _record(read_stream_message(await ws.recv()), sent_at, result, keep)
        while sent_at:
            _record(read_stream_message(await ws.recv()), sent_at, result, keep)


def _record(
    message: Any, sent_at: dict[int, float], result: ModeResult, keep: dict[int, Output] | None
) -> None:
    sent = sent_at.pop(message.seq)
    if isinstance(message, StreamResult):
        result.frames += 1
        result.latencies_ms.append((time.perf_counter() - sent) * 1000)
        if keep is not None:
            keep[message.seq] = message.output
    else:
        result.errors += 1


def _query(params: Params) -> dict[str, Any]:
    values = params.model_dump(exclude_none=True)
    if "classes" in values:
        values["classes"] = ",".join(values["classes"])
    return values


def table(results: Sequence[ModeResult]) -> str:
    """The results as a markdown table, like `fovea bench`'s."""
    lines = [
        "| mode | streams | frames | total s | frames/s | p50 ms/frame | p99 ms/frame | errors "
        "| 503s retried |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.streams} | {r.frames} | {r.total_s:.2f} | {r.frames_per_s:.1f} "
            f"| {r.percentile(50):.1f} | {r.percentile(99):.1f} | {r.errors} | {r.refused} |"
        )
    return "\n".join(lines)


def write_annotated(path: Path, clip: ClipFrames, outputs: dict[int, Output], fps: float) -> int:
    """The clip with each answered frame's result drawn on it, as an H.264 MP4; frames returns."""
    from fovea.video.encode import Mp4Writer
    from fovea.vision.annotators import annotate

    height, width = clip.pixels[0].shape[:2]
    with Mp4Writer(path, fps, (width, height)) as mp4:
        for position, pixels in enumerate(clip.pixels):
            image = Image.fromarray(pixels)
            output = outputs.get(position)
            mp4.write(annotate(image, output.result()) if output is not None else image)
    return len(clip.pixels)
