"""KServe V2 tensors in and out of numpy: JSON `data` (nested or flat, row-major) and the binary
tensor extension (little-endian, row-major; BOOL one byte; BYTES elements as a 4-byte
little-endian length then the bytes). Pure numpy: the remote backend client uses it too."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from fovea.errors import InvalidRequest
from fovea.runtime.session import NUMPY_DTYPES, Array, datatype_of

__all__ = ["datatype_of", "from_binary", "from_json", "to_binary", "to_json"]
_MAX_DIMS = 16
_ALIGN = 16  # bytes: what numpy (glibc malloc) gives its own arrays
_MAX_ELEMENTS = 2**32  # any body past the request limit is refused before this matters


def numpy_dtype(datatype: str) -> np.dtype[np.generic]:
    dtype = NUMPY_DTYPES.get(datatype)
    if dtype is None:
        known = ", ".join(NUMPY_DTYPES)
        raise InvalidRequest(f"datatype {datatype!r} is not supported; use one of {known}")
    return dtype


def element_count(shape: Sequence[int]) -> int:
    if len(shape) > _MAX_DIMS or any(not isinstance(d, int) or d < 0 for d in shape):
        raise InvalidRequest(f"shape {list(shape)} is not a list of sizes >= 0")
    count = math.prod(shape)
    if count > _MAX_ELEMENTS:
        raise InvalidRequest(f"shape {list(shape)} has more than {_MAX_ELEMENTS} elements")
    return count


def from_binary(datatype: str, shape: Sequence[int], data: bytes | memoryview) -> Array:
    """A tensor from its binary form; the byte size must be exactly what the shape needs."""
    dtype, count = numpy_dtype(datatype), element_count(shape)
    if datatype == "BYTES":
        return _bytes_elements(data, count).reshape(shape)
    if len(data) != count * dtype.itemsize:
        raise InvalidRequest(
            f"{len(data)} bytes of binary data for {datatype} {list(shape)}, "
            f"which needs {count * dtype.itemsize}"
        )
    array = np.frombuffer(data, dtype, count)
    if datatype == "BOOL" and array.size and array.view(np.uint8).max() > 1:
        raise InvalidRequest("BOOL binary data holds bytes other than 0 and 1")
    if array.ctypes.data % _ALIGN:
        # Data behind a JSON header of any length starts anywhere; ONNX Runtime's kernels take
        # another path on unaligned memory and round differently, so such data is copied.
        array = array.copy()
    return array.reshape(shape)


def from_json(datatype: str, shape: Sequence[int], data: Any) -> Array:
    """A tensor from JSON `data`: nested lists or one flat list; BYTES elements are strings."""
    dtype, count = numpy_dtype(datatype), element_count(shape)
    flat = _flatten(data)
    if len(flat) != count:
        raise InvalidRequest(f"{len(flat)} values for shape {list(shape)}, which needs {count}")
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise InvalidRequest("BYTES data in JSON must be strings")
        array = np.empty(count, object)
        array[:] = [v.encode() for v in flat]
        return array.reshape(shape)
    if not all(_fits(v, datatype) for v in flat):
        raise InvalidRequest(f"{datatype} data holds values of the wrong type")
    try:
        return np.array(flat, dtype).reshape(shape)
    except OverflowError as exc:
        raise InvalidRequest(f"{datatype} data holds values out of range: {exc}") from exc


def from_binary_items(items: Sequence[bytes]) -> Array:
    """A 1-D BYTES tensor of these elements."""
    array = np.empty(len(items), object)
    array[:] = list(items)
    return array


def to_binary(array: Array, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = [_element(v) for v in array.reshape(-1)]
        return b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return np.ascontiguousarray(array, numpy_dtype(datatype)).tobytes()


def to_json(array: Array, datatype: str) -> list[Any]:
    """Flat, row-major JSON values; BYTES as UTF-8 strings (binary is for anything else)."""
    if datatype == "BYTES":
        try:
            return [_element(v).decode() for v in array.reshape(-1)]
        except UnicodeDecodeError as exc:
            raise InvalidRequest("a BYTES output is not UTF-8: ask for it as binary") from exc
    if datatype in ("FP16", "FP32", "FP64"):
        return [float(v) for v in array.reshape(-1).astype(np.float64)]
    values: list[Any] = array.reshape(-1).tolist()
    return values


def _fits(value: object, datatype: str) -> bool:
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) if datatype.startswith("FP") else isinstance(value, int)


def _element(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


def _bytes_elements(data: bytes | memoryview, count: int) -> Array:
    view, offset = memoryview(data), 0
    elements = np.empty(count, object)
    for index in range(count):
        if offset + 4 > len(view):
            raise InvalidRequest(f"BYTES binary data ends before element {index} of {count}")
        (size,) = struct.unpack_from("<I", view, offset)
        offset += 4
        if offset + size > len(view):
            raise InvalidRequest(f"BYTES element {index} claims {size} bytes past the end")
        elements[index] = bytes(view[offset : offset + size])
        offset += size
    if offset != len(view):
        raise InvalidRequest(f"{len(view) - offset} bytes left over after {count} BYTES elements")
    return elements


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidRequest("tensor data must be a JSON list")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat
