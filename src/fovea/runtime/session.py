"""What a served model needs of the engine that runs its graph (ONNX Runtime, OpenVINO, ...)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


class Session(Protocol):
    input: Any  # .name, .shape and .type (an ONNX type string such as "tensor(float)")
    output_names: list[str]
    fixed_batch: int | None  # a graph fixed at this batch size, or None for a dynamic batch
    providers: list[str]  # where it runs, for GET /v1/models
    idle_session: Any  # a wider session for idle moments, or None

    @property
    def input_shape(self) -> list[int | str | None]: ...

    @property
    def input_dtype(self) -> type[np.generic] | None: ...

    def run(
        self, batch: npt.NDArray[np.generic], *, idle: bool = False
    ) -> dict[str, npt.NDArray[np.float32]]: ...
