"""The results a model gives, in original-image pixels: Detections, Classes and Mask.

Small dataclasses of parallel numpy arrays, validated when built; methods return new objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _check(name: str, array: npt.NDArray[np.generic], shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, array.shape, strict=True)
    )
    if not ok:
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")


@dataclass(frozen=True)
class Detections:
    """N boxes: `xyxy` (N, 4) float32, `score` (N,) float32, `class_id` (N,) int64.

    `keypoints` (N, K, 2) float32 is optional (face landmarks, for example).
    """

    xyxy: FloatArray
    score: FloatArray
    class_id: IntArray
    keypoints: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        _check("xyxy", self.xyxy, (n, 4))
        _check("score", self.score, (n,))
        _check("class_id", self.class_id, (n,))
        if self.keypoints is not None:
            _check("keypoints", self.keypoints, (n, None, 2))
        if self.xyxy.dtype != np.float32 or self.score.dtype != np.float32:
            raise ValueError(f"xyxy and score must be float32, got {self.xyxy.dtype}")
        if self.class_id.dtype != np.int64:
            raise ValueError(f"class_id must be int64, got {self.class_id.dtype}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def build(
        cls,
        xyxy: npt.ArrayLike,
        score: npt.ArrayLike,
        class_id: npt.ArrayLike,
        keypoints: npt.ArrayLike | None = None,
    ) -> Detections:
        """Build from any array-likes, casting to the canonical dtypes."""
        kp = None if keypoints is None else np.asarray(keypoints, np.float32)
        return cls(
            np.asarray(xyxy, np.float32).reshape(-1, 4),
            np.asarray(score, np.float32).reshape(-1),
            np.asarray(class_id, np.int64).reshape(-1),
            kp,
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(
        self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice
    ) -> Detections:
        kp = None if self.keypoints is None else self.keypoints[index]
        return Detections(self.xyxy[index], self.score[index], self.class_id[index], kp)


@dataclass(frozen=True)
class Classes:
    """Top-k classes, best first: `class_id` (K,) int64 and `score` (K,) float32."""

    class_id: IntArray
    score: FloatArray

    def __post_init__(self) -> None:
        _check("score", self.score, (len(self.class_id),))

    def __len__(self) -> int:
        return len(self.class_id)


@dataclass(frozen=True)
class Mask:
    """A class-index map `class_map_hw` (H, W) uint8 in original-image pixels."""

    class_map_hw: npt.NDArray[np.uint8]
    num_classes: int = field(default=2)

    def __post_init__(self) -> None:
        _check("class_map_hw", self.class_map_hw, (None, None))
        if self.class_map_hw.dtype != np.uint8:
            raise ValueError(f"class_map_hw must be uint8, got {self.class_map_hw.dtype}")

    def fractions(self) -> FloatArray:
        """Share of the image's pixels that each class covers, (num_classes,)."""
        counts = np.bincount(self.class_map_hw.ravel(), minlength=self.num_classes)
        return (counts[: self.num_classes] / max(self.class_map_hw.size, 1)).astype(np.float32)


Result = Detections | Classes | Mask


def labels_of(class_id: Sequence[int] | IntArray, labels: Sequence[str]) -> list[str]:
    """Label names for class ids; an id outside the label list reads as its number."""
    return [labels[i] if 0 <= i < len(labels) else str(i) for i in map(int, class_id)]
