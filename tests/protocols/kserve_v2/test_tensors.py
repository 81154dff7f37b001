from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from fovea.errors import InvalidRequest
from fovea.protocols.kserve_v2 import tensors
from fovea.runtime.session import datatype_of

ROUND_TRIP = [
    ("BOOL", np.array([[True, False], [False, True]])),
    ("UINT8", np.array([0, 7, 255], np.uint8)),
    ("INT32", np.array([[-5, 6, 2**31 - 1]], np.int32)),
    ("INT64", np.array([-(2**40), 0, 2**40], np.int64)),
    ("FP16", np.array([0.5, -2.0], np.float16)),
    ("FP32", np.arange(6, dtype=np.float32).reshape(1, 2, 3) / 7),
    ("FP32", np.zeros((0, 3), np.float32)),
]


@pytest.mark.parametrize(("datatype", "array"), ROUND_TRIP)
def test_binary_round_trip(datatype: str, array: np.ndarray) -> None:
    assert datatype_of(array.dtype) == datatype
    data = tensors.to_binary(array, datatype)
    assert len(data) == array.size * array.dtype.itemsize
    back = tensors.from_binary(datatype, list(array.shape), data)
    np.testing.assert_array_equal(back, array)
    assert back.dtype == array.dtype


@pytest.mark.parametrize(("datatype", "array"), ROUND_TRIP)
def test_json_round_trip_nested_and_flat(datatype: str, array: np.ndarray) -> None:
    flat = tensors.to_json(array, datatype)
    np.testing.assert_array_equal(tensors.from_json(datatype, list(array.shape), flat), array)
    nested = array.tolist()
    np.testing.assert_array_equal(tensors.from_json(datatype, list(array.shape), nested), array)


def test_bytes_use_a_four_byte_little_endian_length() -> None:
    array = np.array([b"ab", b"", "\u00e9".encode()], object)
    data = tensors.to_binary(array, "BYTES")
    assert data == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 0) + struct.pack("<I", 2) + (
        "\u00e9".encode()
    )
    assert tensors.from_binary("BYTES", [3], data).tolist() == array.tolist()
    assert tensors.to_json(array, "BYTES") == ["ab", "", "\u00e9"]
    assert tensors.from_json("BYTES", [1, 3], [["ab", "", "\u00e9"]]).shape == (1, 3)
    assert datatype_of(np.array(["x"]).dtype) == "BYTES"


@pytest.mark.parametrize(
    ("datatype", "shape", "data", "message"),
    [
        ("FP32", [2], b"\0" * 7, "needs 8"),
        ("BOOL", [1], b"\x02", "0 and 1"),
        ("BYTES", [1], b"\x05\0\0\0ab", "past the end"),
        ("BYTES", [2], struct.pack("<I", 1) + b"a", "ends before element 1"),
        ("BYTES", [1], struct.pack("<I", 1) + b"ab", "left over"),
        ("BF16", [1], b"\0\0", "not supported"),
        ("FP32", [-1], b"", "sizes >= 0"),
    ],
)
def test_bad_binary_data_is_a_400(
    datatype: str, shape: list[int], data: bytes, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        tensors.from_binary(datatype, shape, data)


@pytest.mark.parametrize(
    ("datatype", "shape", "data", "message"),
    [
        ("FP32", [3], [1, 2], "2 values for shape"),
        ("INT32", [1], [1.5], "wrong type"),
        ("INT32", [1], [True], "wrong type"),
        ("BOOL", [1], [1], "wrong type"),
        ("BYTES", [1], [3], "must be strings"),
        ("FP32", [1], "1.0", "must be a JSON list"),
        ("UINT8", [1], [300], "out of range"),
    ],
)
def test_bad_json_data_is_a_400(datatype: str, shape: list[int], data: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        tensors.from_json(datatype, shape, data)


def test_non_utf8_bytes_cannot_go_out_as_json() -> None:
    with pytest.raises(InvalidRequest, match="binary"):
        tensors.to_json(np.array([b"\xff"], object), "BYTES")


def test_no_datatype_for_complex_numbers() -> None:
    with pytest.raises(ValueError, match="no KServe V2 datatype"):
        datatype_of(np.dtype(np.complex64))


def test_binary_data_at_any_offset_comes_out_aligned() -> None:
    array = np.arange(12, dtype=np.float32)
    body = memoryview(b"{}x" + array.tobytes())[3:]  # as after a 3-byte JSON header
    back = tensors.from_binary("FP32", [12], body)
    assert back.ctypes.data % 16 == 0
    np.testing.assert_array_equal(back, array)
