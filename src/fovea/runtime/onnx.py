"""ONNX Runtime sessions: provider choice, thread sizing, fixed vs dynamic batch, and run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fovea.errors import ModelConfigError
from fovea.runtime.session import ONNX_DATATYPES, Array, TensorInfo

CPU = "CPUExecutionProvider"
# Fastest first; CPU is always available and always last.
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)


@dataclass(frozen=True)
class RuntimeOptions:
    """How sessions are built: providers (None picks automatically) and threads per session."""

    providers: tuple[str, ...] | None = None
    intra_op_threads: int = 1
    # More than intra_op_threads: a second session with this many threads, for images that
    # arrive while the server is otherwise idle (one image then uses the whole machine).
    idle_threads: int = 0


def pick_providers(wanted: Sequence[str] | None) -> list[str]:
    import onnxruntime as ort  # here, not at import: `import fovea` stays light for clients

    available = ort.get_available_providers()
    if wanted is None:
        return [p for p in PREFERRED_PROVIDERS if p in available]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ModelConfigError(
            f"execution providers {missing} are not available; this build has {available}"
        )
    return [*wanted, *(["CPUExecutionProvider"] if "CPUExecutionProvider" not in wanted else [])]


class OnnxModel:
    """One ONNX Runtime session (a `runtime.session.Session`); `run` is thread-safe and takes a
    batch of any size."""

    platform = "onnx_onnxv1"
    available = True

    def __init__(self, path: Path, options: RuntimeOptions, input_name: str | None = None) -> None:
        providers = pick_providers(options.providers)
        self.session = _session(path, options.intra_op_threads, providers)
        # Accelerators have their own parallelism: the idle session only helps on CPU.
        wide = options.idle_threads > options.intra_op_threads and providers == [CPU]
        self.idle_session = _session(path, options.idle_threads, providers) if wide else None
        inputs = self.session.get_inputs()
        chosen = [i for i in inputs if input_name in (None, i.name)]
        if not chosen:
            names = [i.name for i in inputs]
            raise ModelConfigError(f"{path}: no input named {input_name!r}; the graph has {names}")
        if len(inputs) > 1 and input_name is None:
            raise ModelConfigError(f"{path}: the graph has several inputs; set input.name")
        self.node = chosen[0]
        self.input = _info(self.node)
        self.outputs = [_info(o) for o in self.session.get_outputs()]
        batch = self.node.shape[0] if self.node.shape else None
        # A symbolic or missing batch dimension is dynamic; a number fixes it.
        self.fixed_batch: int | None = batch if isinstance(batch, int) and batch > 0 else None
        self.providers: list[str] = self.session.get_providers()

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def close(self) -> None:
        """Nothing to release by hand: the session goes with the last reference to it."""

    def run(self, batch: Array, *, idle: bool = False) -> dict[str, Array]:
        """Run a batch (N, ...) and return every output by name, each with N first; `idle`
        (nothing else is running) uses the idle session's threads when there is one."""
        session = self.idle_session if idle and self.idle_session is not None else self.session
        if self.fixed_batch is None or len(batch) == self.fixed_batch:
            return self._run_once(session, batch)
        if self.fixed_batch != 1:
            raise ModelConfigError(f"fixed batch size {self.fixed_batch} is not supported")
        # A graph fixed at batch 1 runs item by item; results are stacked back into a batch.
        parts = [self._run_once(session, batch[i : i + 1]) for i in range(len(batch))]
        return {name: np.concatenate([p[name] for p in parts]) for name in self.output_names}

    def _run_once(self, session: Any, batch: Array) -> dict[str, Array]:
        values = session.run(self.output_names, {self.input.name: batch})
        return dict(zip(self.output_names, values, strict=True))


def _session(path: Path, threads: int, providers: list[str]) -> Any:
    import onnxruntime as ort

    session_options = ort.SessionOptions()
    session_options.intra_op_num_threads = threads
    session_options.inter_op_num_threads = 1
    session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning intra-op threads burn the cores that image decoding needs (PERF_NOTES.md).
    session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session_options.log_severity_level = 3
    try:
        return ort.InferenceSession(os.fspath(path), session_options, providers=providers)
    except Exception as exc:  # ORT raises its own untyped errors for bad files
        raise ModelConfigError(f"{path}: ONNX Runtime could not load it: {exc}") from exc


def _info(node: Any) -> TensorInfo:
    """A graph input or output as V2 metadata: symbolic or unknown dimensions become -1."""
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in node.shape or ())
    return TensorInfo(node.name, ONNX_DATATYPES.get(node.type, node.type), shape)
