"""What a served model needs of whatever runs its graph (an ONNX Runtime session here, a remote
KServe V2 server elsewhere): the input and outputs it declares, and `run(batch)`.

Tensor datatypes are named as the KServe V2 protocol names them (FP32, UINT8, BYTES, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.generic]

# V2 datatype -> numpy dtype, little-endian as the protocol's binary form is. BYTES are object
# arrays of `bytes`.
NUMPY_DTYPES: dict[str, np.dtype[np.generic]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
# ONNX Runtime's type strings (NodeArg.type) -> V2 datatype.
ONNX_DATATYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
    "tensor(bfloat16)": "BF16",
}


def datatype_of(dtype: np.dtype[np.generic]) -> str:
    """The V2 datatype of a numpy dtype (byte order aside)."""
    if dtype.kind in "OSU":
        return "BYTES"
    for name, known in NUMPY_DTYPES.items():
        if known.kind == dtype.kind and known.itemsize == dtype.itemsize and name != "BYTES":
            return name
    raise ValueError(f"no KServe V2 datatype for numpy {dtype}")


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: its name, V2 datatype, and shape with -1 for any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]


class Session(Protocol):
    """A loaded graph. `run` is thread-safe, takes a batch (N, ...) of the input, and returns
    every output by name with N first; `available` is False while it cannot run (a remote
    backend that is down)."""

    input: TensorInfo
    outputs: list[TensorInfo]
    fixed_batch: int | None  # a batch size the graph is fixed at; None when dynamic
    providers: list[str]
    platform: str  # V2 model metadata's platform, such as onnx_onnxv1

    @property
    def output_names(self) -> list[str]: ...

    @property
    def available(self) -> bool: ...

    def run(self, batch: Array, *, idle: bool = False) -> dict[str, Array]:
        """`idle`: nothing else runs now, so the run may use every core, where it can."""
        ...

    def close(self) -> None: ...
