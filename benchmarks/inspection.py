"""What inspection costs: matching alone for patterns of growing size, and the inspect endpoint
against predict on the same model and image, measured in one run (read the ratio).

`python -m benchmarks.inspection` (from the repository root, with the dev install); it builds
the test suite's planted-board detector, so it needs no downloaded weights.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from tests.helpers import image_bytes
from tests.inspection.planted import BOARD_PATTERN, build

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.inspection.matching import match
from fovea.inspection.patterns import Pattern

ROUNDS = 200


def layout(positions: int, labels: int, rng: np.random.Generator) -> tuple[Pattern, np.ndarray]:
    """A pattern of `positions` boxes over `labels` labels, and detections 0.005 off each."""
    boxes = np.column_stack(
        [rng.uniform(0.05, 0.95, (positions, 2)), np.full((positions, 2), 0.03)]
    )
    names = [f"part{i % labels}" for i in range(positions)]
    pattern = Pattern.model_validate(
        {"objects": [{"label": n, "box": b.tolist()} for n, b in zip(names, boxes, strict=True)]}
    )
    found = boxes + rng.normal(0, 0.005, boxes.shape) * [1, 1, 0, 0]
    return pattern, found


def time_match(positions: int, labels: int) -> float:
    rng = np.random.default_rng(0)
    pattern, found = layout(positions, labels, rng)
    names = [o.label for o in pattern.objects]
    scores = np.ones(positions)
    match("p", pattern, found, names, scores)  # warm: scipy's import
    started = time.perf_counter()
    for _ in range(ROUNDS):
        match("p", pattern, found, names, scores)
    return (time.perf_counter() - started) / ROUNDS * 1000


def time_endpoints() -> tuple[float, float]:
    """Median ms of predict and of inspect, interleaved, on the planted board."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = Settings(model_repository=build(root), data_dir=root / "data", workers=1)
        photo = image_bytes((640, 640))
        with TestClient(create_app(settings)) as client:
            headers = {"content-type": "application/toml"}
            client.put("/v1/patterns/board", content=BOARD_PATTERN, headers=headers)
            files = {"file": ("a.jpg", photo)}
            predict, inspect = [], []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                client.post("/v1/models/inspect-test/predict", files={"files": ("a.jpg", photo)})
                predict.append(time.perf_counter() - started)
                started = time.perf_counter()
                answer = client.post(
                    "/v1/models/inspect-test/inspect", files=files, data={"pattern": "board"}
                )
                inspect.append(time.perf_counter() - started)
                assert answer.json()["decision"] == "OK"
    return statistics.median(predict) * 1000, statistics.median(inspect) * 1000


def main() -> None:
    print("| positions | labels | ms per match |")
    print("| --- | --- | --- |")
    for positions, labels in ((4, 3), (50, 5), (200, 10), (200, 1)):
        print(f"| {positions} | {labels} | {time_match(positions, labels):.3f} |")
    predict_ms, inspect_ms = time_endpoints()
    print(
        f"\npredict median {predict_ms:.2f} ms, inspect median {inspect_ms:.2f} ms, "
        f"ratio {inspect_ms / predict_ms:.2f} ({ROUNDS} each, interleaved)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
