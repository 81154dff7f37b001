"""What a video request asks for (which frames) and what the server allows (limits): plain values,
no PyAV, so settings and clients can build them without the `video` extra."""

from __future__ import annotations

from dataclasses import dataclass

from fovea.errors import InvalidParameter


@dataclass(frozen=True)
class VideoLimits:
    """Bytes of one video, seconds processed, frames processed, pixels of one frame."""

    max_bytes: int = 100 * 1024 * 1024
    max_duration_s: float = 600.0
    max_frames: int = 10_000
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class Sampling:
    """Which frames to process: every frame, `fps` per second of video, or every `stride`-th,
    from `start_s` to `end_s` (end excluded), at most `max_frames`."""

    fps: float | None = None
    stride: int | None = None
    start_s: float = 0.0
    end_s: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.fps is not None and self.stride is not None:
            raise InvalidParameter("give fps or stride, not both")
        if self.fps is not None and self.fps <= 0:
            raise InvalidParameter(f"fps must be above 0, got {self.fps}")
        if self.stride is not None and self.stride < 1:
            raise InvalidParameter(f"stride must be at least 1, got {self.stride}")
        if self.start_s < 0:
            raise InvalidParameter(f"start must be 0 or more seconds, got {self.start_s}")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise InvalidParameter(f"end ({self.end_s} s) must be after start ({self.start_s} s)")
        if self.max_frames is not None and self.max_frames < 1:
            raise InvalidParameter(f"max_frames must be at least 1, got {self.max_frames}")

    def capped(self, limits: VideoLimits) -> Sampling:
        """These choices within the server's frame limit (a larger max_frames is refused)."""
        if self.max_frames is not None and self.max_frames > limits.max_frames:
            raise InvalidParameter(
                f"max_frames {self.max_frames} is over this server's limit of "
                f"{limits.max_frames} (FOVEA_VIDEO_MAX_FRAMES)"
            )
        return Sampling(
            self.fps, self.stride, self.start_s, self.end_s, self.max_frames or limits.max_frames
        )
