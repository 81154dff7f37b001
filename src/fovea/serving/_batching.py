"""Batching policy: one batcher per model version, sized for where the model runs, made on first
use (so models loaded later, by a reload, get theirs too)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from anyio.abc import TaskGroup

from fovea.models import ServedModel
from fovea.runtime.batcher import Batcher
from fovea.runtime.onnx import CPU

Tensor = npt.NDArray[np.generic]
ModelBatcher = Batcher[Tensor, dict[str, Tensor]]


def batch_size(model: ServedModel) -> int:
    """model.toml's size, else 1 on CPU (a conv net already keeps a core busy: batching adds
    latency and activation memory, not throughput) and 8 with an accelerator. A graph fixed at
    batch 1 is never stacked."""
    if model.session.fixed_batch is not None:
        return 1
    configured = model.spec.batching.max_batch_size
    return configured or (1 if model.session.providers == [CPU] else 8)


class Batchers:
    def __init__(
        self, group: TaskGroup, lanes: int, on_batch: Callable[[str, int], None] | None = None
    ) -> None:
        self.group, self.lanes, self.on_batch = group, lanes, on_batch
        # By the served object itself: a reloaded version is a new object with its own batcher.
        self._by_model: dict[ServedModel, ModelBatcher] = {}

    def get(self, model: ServedModel) -> ModelBatcher:
        batcher = self._by_model.get(model)
        if batcher is None:
            batcher = self._by_model[model] = self._start(model)
        return batcher

    def retire(self, model: ServedModel) -> None:
        """Stop the batcher of a model that is no longer served (after its last request)."""
        batcher = self._by_model.pop(model, None)
        if batcher is not None:
            batcher.close()

    def close(self) -> None:
        for batcher in self._by_model.values():
            batcher.close()

    def _start(self, model: ServedModel) -> ModelBatcher:
        batching = model.spec.batching
        batcher: ModelBatcher = Batcher(
            model.run_graph,
            max_batch_size=batch_size(model),
            max_delay_s=batching.max_queue_delay_ms / 1000,
            lanes=self.lanes,
        )
        if self.on_batch is not None:
            batcher.on_batch = functools.partial(self.on_batch, model.name)
        batcher.start(self.group)
        return batcher
