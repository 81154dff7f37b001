"""Small helpers the YOLO-style decoders share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def cxcywh_to_xyxy(cxcywh: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    half = cxcywh[:, 2:4] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1).astype(np.float32)


def check_classes(found: int, expected: int | None, decoder: str) -> None:
    if expected is not None and found != expected:
        raise ValueError(
            f"{decoder}: the output has {found} class columns "
            f"but model.toml lists {expected} labels"
        )
