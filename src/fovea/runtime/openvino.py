"""An OpenVINO session for the same ONNX file, for `runtime.precision = "bf16"`: OpenVINO runs
the graph in bfloat16 on CPUs that have it (AVX-512 BF16 or AMX), where ONNX Runtime's CPU
provider has no bf16 kernels. Same interface as `OnnxModel`, so a served model cannot tell.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from fovea.errors import ModelConfigError
from fovea.runtime.onnx import RuntimeOptions
from fovea.runtime.session import Array, TensorInfo

_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


_DATATYPES = {"f32": "FP32", "f16": "FP16", "u8": "UINT8", "i64": "INT64", "i32": "INT32"}


def _info(port: Any) -> TensorInfo:
    shape = tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())
    datatype = _DATATYPES.get(port.get_element_type().get_type_name(), "FP32")
    return TensorInfo(port.get_any_name(), datatype, shape)


class OpenVinoModel:
    """One compiled OpenVINO model (a `runtime.session.Session`); `run` is thread-safe (a pool
    of infer requests)."""

    platform = "onnx_onnxv1"  # the graph is the ONNX file; OpenVINO only runs it
    available = True

    def __init__(
        self,
        path: Path,
        options: RuntimeOptions,
        precision: str,
        input_name: str | None = None,
        cpuinfo: Path = Path("/proc/cpuinfo"),
    ) -> None:
        if precision == "bf16" and not cpu_has_bf16(cpuinfo):
            raise ModelConfigError(
                "runtime.precision = 'bf16' needs a CPU with AVX-512 BF16 or AMX; this one has "
                "neither (use 'fp32', or an int8 version from `fovea models quantize`)"
            )
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelConfigError(
                "runtime.precision = 'bf16' runs on OpenVINO: pip install 'fovea-serve[openvino]'"
            ) from exc
        core = ov.Core()
        try:
            graph = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises its own untyped errors for bad files
            raise ModelConfigError(f"{path}: OpenVINO could not read it: {exc}") from exc
        inputs = [i for i in graph.inputs if input_name in (None, i.get_any_name())]
        if not inputs:
            raise ModelConfigError(f"{path}: no input named {input_name!r}")
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "INFERENCE_NUM_THREADS": str(options.intra_op_threads),
            "NUM_STREAMS": "1",
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.compiled = core.compile_model(graph, "CPU", config)
        self.input = _info(inputs[0])
        self.outputs = [_info(o) for o in self.compiled.outputs]
        batch = self.input.shape[0] if self.input.shape else None
        self.fixed_batch: int | None = batch if batch is not None and batch > 0 else None
        self.providers: list[str] = [f"OpenVINO CPU ({precision})"]
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def close(self) -> None:
        """Nothing to release by hand: the compiled model goes with the last reference."""

    def run(self, batch: Array, *, idle: bool = False) -> dict[str, Array]:
        with self._request() as request:
            request.infer({self.input.name: batch})
            return {name: np.array(request.get_tensor(name).data) for name in self.output_names}

    @contextmanager
    def _request(self) -> Iterator[Any]:
        # One infer request per concurrent caller, reused: requests are not thread-safe.
        try:
            request = self._requests.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            yield request
        finally:
            self._requests.put(request)
