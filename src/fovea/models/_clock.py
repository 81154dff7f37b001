"""Wall and CPU time per stage of one image (decode, preprocess, infer, postprocess).

CPU time is the calling thread's (`time.thread_time`): what the stage cost the machine, whatever
else was running; an inference with several ONNX Runtime threads counts only the caller's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageClock:
    wall_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000)

    def add(self, name: str, wall_ms: float, cpu_ms: float) -> None:
        self.wall_ms[name] = round(wall_ms, 3)
        self.cpu_ms[name] = round(cpu_ms, 3)
