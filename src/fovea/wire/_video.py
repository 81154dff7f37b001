"""The JSON of video: the NDJSON lines of POST /v1/models/{model}/video (header, one per frame,
then a summary, or an error line last) and the messages of WS /v1/models/{model}/stream.
Shared by the server, the client and the UI; no server imports.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from fovea.core import Params
from fovea.wire._schemas import ClassScore, Detection, MaskOut, Output, Problem, Timing


class VideoHeader(BaseModel):
    """The first line: the video as its container describes it, and what will be processed."""

    type: Literal["header"] = "header"
    model: str
    version: str
    task: str
    width: int
    height: int
    fps: float = Field(description="The video's average frame rate; 0 when it does not say.")
    frame_count: int | None = Field(
        None, description="Frames in the video, from its header or its duration; null when unknown."
    )
    duration_s: float | None = None
    codec: str
    container: str
    sample_fps: float | None = None
    stride: int | None = None
    start_s: float = 0.0
    end_s: float | None = None
    max_frames: int
    tracking: bool = False


class FrameLine(BaseModel):
    """One processed frame: its number in the video (0-based), its time, and the result."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["frame"] = "frame"
    frame: int
    time_ms: float
    width: int
    height: int
    detections: list[Detection] | None = None
    classes: list[ClassScore] | None = None
    mask: MaskOut | None = None
    timing: Timing

    def output(self) -> Output:
        """This frame as a predict output (id: the frame number), e.g. for `Output.result()`."""
        fields = self.model_dump(exclude={"type", "frame", "time_ms"})
        return Output(id=str(self.frame), **fields)


class VideoSummary(BaseModel):
    """The last line of a complete answer."""

    type: Literal["summary"] = "summary"
    frames: int = Field(description="Frames processed.")
    detections: dict[str, int] = Field(
        default_factory=dict, description="Detections per class, summed over the frames."
    )
    max_in_frame: dict[str, int] = Field(
        default_factory=dict, description="Most objects of each class seen in one frame."
    )
    objects: dict[str, int] | None = Field(
        None, description="Tracking: distinct tracked objects per class."
    )
    top_class: dict[str, int] | None = Field(
        None, description="Classifiers: frames per top-1 class."
    )
    elapsed_ms: float
    frames_per_s: float


class VideoError(BaseModel):
    """The last line when the video could not be processed to the end (damaged, too long,
    server shutting down): the frames before it were processed."""

    type: Literal["error"] = "error"
    frame: int | None = Field(None, description="The last frame answered before the error.")
    problem: Problem


VideoLine = Annotated[
    VideoHeader | FrameLine | VideoSummary | VideoError, Field(discriminator="type")
]
_LINE = TypeAdapter(VideoLine)


def read_video_line(text: str | bytes) -> VideoHeader | FrameLine | VideoSummary | VideoError:
    """One NDJSON line as its schema."""
    return _LINE.validate_json(text)


class StreamReady(BaseModel):
    """Sent once a stream is accepted."""

    type: Literal["ready"] = "ready"
    model: str
    version: str
    task: str
    policy: Literal["wait", "drop_oldest"]
    max_in_flight: int
    tracking: bool = False


class StreamResult(BaseModel):
    """The answer to frame `seq` (frames are numbered from 0 in the order they arrive)."""

    type: Literal["result"] = "result"
    seq: int
    id: str | None = None
    output: Output
    latency_ms: float = Field(description="From the frame's arrival to its answer, server side.")


class StreamDropped(BaseModel):
    """Frame `seq` was not processed: a newer frame arrived while it waited (drop_oldest)."""

    type: Literal["dropped"] = "dropped"
    seq: int
    id: str | None = None
    reason: str


class StreamError(BaseModel):
    """Frame `seq` could not be processed (not an image, too large); the stream goes on. Without
    a `seq`, the stream itself was refused (then the server closes it with 4000 + status)."""

    type: Literal["error"] = "error"
    seq: int | None = None
    id: str | None = None
    problem: Problem


StreamMessage = Annotated[
    StreamReady | StreamResult | StreamDropped | StreamError, Field(discriminator="type")
]
_MESSAGE = TypeAdapter(StreamMessage)


def read_stream_message(
    text: str | bytes,
) -> StreamReady | StreamResult | StreamDropped | StreamError:
    return _MESSAGE.validate_json(text)


class StreamFrame(BaseModel):
    """A frame sent as a JSON text message instead of binary: base64 image bytes (or a data
    URI), and an optional id echoed back in its answer."""

    model_config = ConfigDict(extra="forbid")

    image: str
    id: str | None = Field(None, max_length=256)


class VideoUrlRequest(BaseModel):
    """The JSON body of the video route for a video at a URL (fetched under the same rules as
    image URLs); `params` are the usual predict parameters."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=4096)
    params: Params = Params()
