"""A remote KServe V2 server as a `Session`: the graph's input and outputs come from the
remote's model metadata, and `run` sends the tensor batch. Calls that never reached the model are
tried again (inference is a pure function, so a retry is safe); a circuit breaker stops calling a
backend that keeps failing, and the model reads as unavailable until it may try again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from fovea.errors import BackendUnavailable, ModelConfigError
from fovea.protocols.kserve_v2.client import NotDelivered, RemoteMetadata, connect
from fovea.runtime.remote_options import RemoteOptions
from fovea.runtime.session import Array, TensorInfo

log = logging.getLogger("fovea.remote")
T = TypeVar("T")
_BACKOFF_S = 0.05  # before the first retry; doubled for each next one


class CircuitBreaker:
    """Open after `failures` failed calls in a row; while open, calls fail at once. After
    `reset_s` calls may go through again: one success closes it, one failure opens it again."""

    def __init__(self, failures: int, reset_s: float) -> None:
        self.failures, self.reset_s = failures, reset_s
        self._failed = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        opened = self._opened_at
        return opened is not None and time.monotonic() - opened < self.reset_s

    def check(self, where: str) -> None:
        if self.is_open:
            raise BackendUnavailable(
                f"{where}: {self._failed} calls in a row failed; not calling it for "
                f"{self.reset_s:g} s (circuit breaker open)"
            )

    def succeeded(self) -> None:
        with self._lock:
            self._failed, self._opened_at = 0, None

    def failed(self) -> None:
        with self._lock:
            self._failed += 1
            if self._failed >= self.failures:
                self._opened_at = time.monotonic()


class RemoteModel:
    """A model served by another KServe V2 server; thread-safe, pooled connections."""

    def __init__(self, options: RemoteOptions, input_name: str | None = None) -> None:
        self.options = options
        self.breaker = CircuitBreaker(options.breaker_failures, options.breaker_reset_s)
        self.client = connect(options)
        self.providers = [f"remote {options.protocol} {options.url} {options.model}"]
        try:
            metadata = self._call(self.client.metadata)
        except BaseException:
            self.client.close()
            raise
        self.platform = metadata.platform or "remote"
        self.input = _pick_input(metadata, input_name, options)
        self.outputs = metadata.outputs
        batch = self.input.shape[0] if self.input.shape else -1
        self.fixed_batch: int | None = batch if batch > 0 else None

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    @property
    def available(self) -> bool:
        return not self.breaker.is_open

    def run(self, batch: Array, *, idle: bool = False) -> dict[str, Array]:
        return self._call(lambda: self.client.infer(self.input.name, batch, self.outputs))

    def close(self) -> None:
        self.client.close()

    def _call(self, call: Callable[[], T]) -> T:
        where = f"backend {self.options.url} model {self.options.model!r}"
        self.breaker.check(where)
        for attempt in range(self.options.retries + 1):
            try:
                result = call()
            except NotDelivered as exc:
                if attempt == self.options.retries:
                    self.breaker.failed()
                    raise
                log.warning(
                    "%s; trying again (%d of %d)", exc.detail, attempt + 1, self.options.retries
                )
                time.sleep(_BACKOFF_S * 2**attempt)
            except BackendUnavailable:
                self.breaker.failed()
                raise
            else:
                self.breaker.succeeded()
                return result
        raise AssertionError("unreachable")  # pragma: no cover


def _pick_input(metadata: RemoteMetadata, name: str | None, options: RemoteOptions) -> TensorInfo:
    chosen = [i for i in metadata.inputs if name in (None, i.name)]
    names = [i.name for i in metadata.inputs]
    if not chosen:
        raise ModelConfigError(f"remote model {options.model!r} has no input {name!r}: {names}")
    if len(metadata.inputs) > 1 and name is None:
        raise ModelConfigError(f"remote model {options.model!r} has inputs {names}; set input.name")
    return chosen[0]
