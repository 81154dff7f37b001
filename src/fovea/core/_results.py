"""What a model gives back, in original-image pixels: Detections, Classes, Mask and Heatmap.

Small dataclasses of parallel numpy arrays, validated when built; they carry their class names,
so every consumer (the API, the exporters, the client, the UI, the annotators) reads the same
thing. Methods return new objects; nothing here mutates an array it was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Index = int | slice | npt.NDArray[np.bool_] | npt.NDArray[np.intp] | npt.NDArray[np.int64]


def _check(
    name: str, array: npt.NDArray[Any], shape: tuple[int | None, ...], dtype: type[np.generic]
) -> None:
    ok = array.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, array.shape, strict=False)
    )
    if not ok or array.dtype != dtype:
        dims = ["N" if s is None else str(s) for s in shape]
        expected = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        raise ValueError(
            f"{name}: expected {expected} {np.dtype(dtype).name}, "
            f"got {array.shape} {array.dtype.name}"
        )


def labels_of(class_id: Sequence[int] | IntArray, labels: Sequence[str]) -> list[str]:
    """Names for class ids; an id outside the label list reads as its number."""
    return [labels[i] if 0 <= i < len(labels) else str(i) for i in map(int, class_id)]


def _as_index(index: Index) -> npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice:
    # An int keeps the axis (a Detections of one), as supervision does.
    return np.array([index], np.intp) if isinstance(index, int) else index


@dataclass(frozen=True, eq=False)
class Detections:
    """N objects: `xyxy` (N, 4) float32 pixels, `score` (N,) float32, `class_id` (N,) int64.

    `labels` names the classes (class_id indexes it). Optional per object: `keypoints`
    (N, K, 2) float32, `tracker_id` (N,) int64, and `data`, a dict of arrays of length N
    (a second-stage classifier's answers, say).
    """

    xyxy: FloatArray
    score: FloatArray
    class_id: IntArray
    labels: tuple[str, ...] = ()
    keypoints: FloatArray | None = None
    tracker_id: IntArray | None = None
    data: Mapping[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        _check("xyxy", self.xyxy, (n, 4), np.float32)
        _check("score", self.score, (n,), np.float32)
        _check("class_id", self.class_id, (n,), np.int64)
        if self.keypoints is not None:
            _check("keypoints", self.keypoints, (n, None, 2), np.float32)
        if self.tracker_id is not None:
            _check("tracker_id", self.tracker_id, (n,), np.int64)
        for key, values in self.data.items():
            if len(values) != n:
                raise ValueError(f"data[{key!r}]: expected length {n}, got {len(values)}")

    @classmethod
    def empty(cls, labels: Sequence[str] = ()) -> Detections:
        return cls.build(np.zeros((0, 4)), [], [], labels)

    @classmethod
    def build(
        cls,
        xyxy: npt.ArrayLike,
        score: npt.ArrayLike,
        class_id: npt.ArrayLike,
        labels: Sequence[str] = (),
        keypoints: npt.ArrayLike | None = None,
    ) -> Detections:
        """Build from any array-likes, casting to the canonical dtypes."""
        return cls(
            np.asarray(xyxy, np.float32).reshape(-1, 4),
            np.asarray(score, np.float32).reshape(-1),
            np.asarray(class_id, np.int64).reshape(-1),
            tuple(labels),
            None if keypoints is None else np.asarray(keypoints, np.float32),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Index) -> Detections:
        i = _as_index(index)
        return Detections(
            self.xyxy[i],
            self.score[i],
            self.class_id[i],
            self.labels,
            None if self.keypoints is None else self.keypoints[i],
            None if self.tracker_id is None else self.tracker_id[i],
            {key: values[i] for key, values in self.data.items()},
        )

    @property
    def class_name(self) -> list[str]:
        """Each object's class name."""
        return labels_of(self.class_id, self.labels)

    def replace(self, **changes: Any) -> Detections:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Classes:
    """Top-k classes, best first: `class_id` (K,) int64, `score` (K,) float32, named by `labels`."""

    class_id: IntArray
    score: FloatArray
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        k = len(self.class_id)
        _check("class_id", self.class_id, (k,), np.int64)
        _check("score", self.score, (k,), np.float32)

    def __len__(self) -> int:
        return len(self.class_id)

    @property
    def class_name(self) -> list[str]:
        return labels_of(self.class_id, self.labels)


@dataclass(frozen=True, eq=False)
class Mask:
    """A class-index map `class_map_hw` (H, W) uint8; class i is named `labels[i]`.

    A one-channel segmenter's mask also keeps the foreground `probability_hw` (H, W) float32 it
    was thresholded from, so mapping it to another size resizes that smoothly first.
    """

    class_map_hw: npt.NDArray[np.uint8]
    labels: tuple[str, ...] = ("background", "foreground")
    probability_hw: FloatArray | None = None
    threshold: float = 0.5

    def __post_init__(self) -> None:
        _check("class_map_hw", self.class_map_hw, (None, None), np.uint8)
        if self.class_map_hw.size and int(self.class_map_hw.max()) >= self.num_classes:
            raise ValueError(
                f"class_map_hw: class {int(self.class_map_hw.max())} has no label; "
                f"labels are {list(self.labels)}"
            )
        if self.probability_hw is not None:
            _check("probability_hw", self.probability_hw, self.class_map_hw.shape, np.float32)

    @classmethod
    def from_probability(
        cls, probability_hw: FloatArray, threshold: float, labels: Sequence[str]
    ) -> Mask:
        probability = np.asarray(probability_hw, np.float32)
        return cls(
            (probability > threshold).astype(np.uint8), tuple(labels), probability, threshold
        )

    @property
    def num_classes(self) -> int:
        return max(len(self.labels), 2)

    @property
    def shape_hw(self) -> tuple[int, int]:
        height, width = self.class_map_hw.shape
        return height, width

    def fractions(self) -> FloatArray:
        """Share of the pixels that each class covers, (num_classes,)."""
        counts = np.bincount(self.class_map_hw.ravel(), minlength=self.num_classes)
        return (counts[: self.num_classes] / max(self.class_map_hw.size, 1)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Where a model looked: `values_hw` (H, W) float32 in 0..1, for one class and its score."""

    values_hw: FloatArray
    class_id: int = -1
    label: str = ""
    score: float = float("nan")

    def __post_init__(self) -> None:
        _check("values_hw", self.values_hw, (None, None), np.float32)


Result = Detections | Classes | Mask
