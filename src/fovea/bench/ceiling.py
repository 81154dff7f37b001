"""The in-process ceiling: decode + preprocess + infer + postprocess with no server in the way,
run by k worker processes with their own sessions. The best k is what the hardware can do.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fovea.models import Repository, ServedModel
from fovea.runtime.memory import tune_malloc
from fovea.runtime.onnx import RuntimeOptions
from fovea.vision import Limits


@dataclass(frozen=True)
class CeilingResult:
    workers: int
    threads_per_worker: int
    images_per_s: float
    ms_per_image: float  # one worker's time per image
    model_only: bool = False


def _worker(
    repository: str,
    model: str,
    image: bytes,
    threads: int,
    duration_s: float,
    ready: Any,
    results: multiprocessing.Queue[tuple[int, float]],
    model_only: bool = False,
) -> None:
    tune_malloc()  # as `fovea serve` does, so the ceiling is not held back by page faults
    repo = Repository(Path(repository), RuntimeOptions(intra_op_threads=threads))
    repo.scan()
    repo.load_all(only=model)
    served = repo.get(model)
    assert isinstance(served, ServedModel), "the ceiling measures one model, not a pipeline"
    tensor = served.load(image, Limits()).tensor
    step = (lambda: served.infer([tensor])) if model_only else (lambda: served.predict(image))
    for _ in range(5):
        step()
    ready.wait(timeout=120)  # every worker starts measuring together, once all are loaded
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < duration_s:
        step()
        count += 1
    results.put((count, time.perf_counter() - began))


def measure(
    repository: Path,
    model: str,
    image: bytes,
    workers: int,
    threads: int,
    duration_s: float,
    model_only: bool = False,
) -> CeilingResult:
    """The ceiling with `workers` processes of `threads` each; `model_only` times the session
    alone on a ready tensor (the model-only limit: no decode, preprocess or postprocess)."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, float]] = context.Queue()
    ready = context.Barrier(workers)
    processes = [
        context.Process(
            target=_worker,
            args=(str(repository), model, image, threads, duration_s, ready, results, model_only),
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    counts = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join()
    images = sum(c for c, _ in counts)
    elapsed = max(e for _, e in counts)
    per_image = sum(e / c for c, e in counts) / len(counts) * 1000
    return CeilingResult(workers, threads, images / elapsed, per_image, model_only)
