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
import numpy.typing as npt

from fovea.errors import ModelConfigError
from fovea.runtime.onnx import RuntimeOptions

_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


class _Port:
    """The input's name, shape and type, as `OnnxModel.input` gives them."""

    def __init__(self, name: str, shape: list[int | str], type_: str) -> None:
        self.name, self.shape, self.type = name, shape, type_


class OpenVinoModel:
    """One compiled OpenVINO model; `run` is thread-safe (a pool of infer requests)."""

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
        port = inputs[0]
        shape = [d.get_length() if d.is_static else "batch" for d in port.get_partial_shape()]
        element = {"f32": "tensor(float)", "f16": "tensor(float16)", "u8": "tensor(uint8)"}
        self.input = _Port(
            port.get_any_name(), shape, element.get(port.get_element_type().get_type_name(), "")
        )
        self.output_names: list[str] = [o.get_any_name() for o in self.compiled.outputs]
        batch = shape[0] if shape else None
        self.fixed_batch: int | None = batch if isinstance(batch, int) and batch > 0 else None
        self.providers: list[str] = [f"OpenVINO CPU ({precision})"]
        self.idle_session = None
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @property
    def input_shape(self) -> list[int | str | None]:
        return list(self.input.shape)

    @property
    def input_dtype(self) -> type[np.generic] | None:
        types: dict[str, type[np.generic]] = {
            "tensor(float)": np.float32,
            "tensor(uint8)": np.uint8,
        }
        return types.get(self.input.type)

    def run(
        self, batch: npt.NDArray[np.generic], *, idle: bool = False
    ) -> dict[str, npt.NDArray[np.float32]]:
        with self._request() as request:
            request.infer({self.input.name: batch})
            return {
                name: np.array(request.get_tensor(name).data, np.float32)
                for name in self.output_names
            }

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
