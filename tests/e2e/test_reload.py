"""Hot reload in a real `fovea serve`: under load no request fails while models load, swap and
unload; and 50 unload/load cycles leave the process's memory where it started."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient

from fovea.bench.server import rss_mb
from fovea.models import BUNDLED
from tests.helpers import image_bytes, write_model
from tests.servers import fovea_server, untraced

COLOUR = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
[input]
size = [32, 32]
resize = "stretch"
[batching]
max_batch_size = 4
"""


def _until(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_no_request_fails_while_the_repository_changes(model_repo: Path, tmp_path: Path) -> None:
    onnx = model_repo / "colour-test" / "1" / "model.onnx"
    root = tmp_path / "models"
    write_model(root, "a", COLOUR, {"1": onnx})
    shutil.copytree(model_repo / "overload-test", root / "slow")  # whole-image path, ~50 ms
    (root / "slow" / "model.toml").write_text(
        (model_repo / "yolov8-test" / "model.toml").read_text()
    )
    red = image_bytes((40, 30), (250, 5, 5), "PNG")
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def predict(url: str, model: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(5000):  # bounded; the test stops it long before
                if stop.is_set():
                    return
                try:
                    response = http.post(
                        f"/v1/models/{model}/predict", files={"files": ("r.png", red)}
                    )
                except httpx.HTTPError as exc:
                    outcomes[f"{model} {exc!r}"] += 1
                    continue
                outcomes[f"{model} {response.status_code}"] += 1

    def infer(url: str) -> None:
        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        tensor = httpclient.InferInput("images", [2, 3, 32, 32], "FP32")
        tensor.set_data_from_numpy(np.full((2, 3, 32, 32), 0.5, np.float32))
        for _ in range(5000):
            if stop.is_set():
                break
            try:
                logits = client.infer("a", [tensor]).as_numpy("logits")
                outcomes[
                    "v2 ok" if logits is not None and logits.shape == (2, 3) else "v2 bad"
                ] += 1
            except Exception as exc:
                outcomes[f"v2 {exc}"] += 1
        client.close()

    with fovea_server(root, tmp_path, FOVEA_REPOSITORY_POLL_S="0.5", FOVEA_WORKERS="2") as server:
        url = server.url
        workers = [
            threading.Thread(target=predict, args=(url, "a")),
            threading.Thread(target=predict, args=(url, "slow")),
            threading.Thread(target=infer, args=(url,)),
        ]
        for worker in workers:
            worker.start()
        try:
            _change_the_repository(url, root, onnx)
        finally:  # the clients stop before the server does, whatever happened
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
        log = server.log_path.read_text()
    assert set(outcomes) == {"a 200", "slow 200", "v2 ok"}, (outcomes, log[-2000:])
    assert min(outcomes.values()) >= 5, outcomes


@pytest.mark.timeout(300)
def test_memory_returns_after_50_unload_load_cycles(tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(BUNDLED / "face-detection", root / "face-detection")
    photo = (Path(__file__).parents[1] / "fixtures" / "photos" / "astronaut.jpg").read_bytes()
    with untraced(), fovea_server(root, tmp_path) as server:
        client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
        images = httpclient.InferInput("IMAGE", [1], "BYTES")
        images.set_data_from_numpy(np.array([photo], object))

        def use() -> None:
            for _ in range(3):
                assert (
                    client.infer("face-detection.pipeline", [images]).as_numpy("RESULT") is not None
                )

        def settled_rss() -> float:
            time.sleep(3)  # idle for 2 s: the server hands its heap back (malloc_trim)
            value = rss_mb(server.process.pid)
            assert value is not None
            return value

        use()
        baseline = settled_rss()
        for _ in range(50):
            client.unload_model("face-detection")
            assert not client.is_model_ready("face-detection")
            client.load_model("face-detection")
            use()
        after = settled_rss()
        client.close()
    print(f"RSS baseline {baseline:.1f} MB, after 50 cycles {after:.1f} MB")
    assert after <= baseline * 1.10, (baseline, after)


def _change_the_repository(url: str, root: Path, onnx: Path) -> None:
    """Each change, then its effect; polling (every 0.5 s) may be the one that applies it."""
    with httpx.Client(base_url=url, timeout=60) as http:

        def version(model: str) -> str | None:
            found: str | None = http.get(f"/v1/models/{model}").json().get("default_version")
            return found

        def reload() -> None:
            assert http.post("/v1/repository/reload").status_code == 200
            time.sleep(0.3)  # a few more requests against the state just made

        write_model(root, "a", COLOUR, {"2": onnx})  # a new version: swaps in
        reload()
        assert version("a") == "2"
        write_model(root, "c", COLOUR, {"1": onnx})
        reload()
        assert http.get("/v1/models/c").json()["status"] == "ready"
        shutil.rmtree(root / "c")
        reload()
        assert http.get("/v1/models/c").status_code == 404
        good = (root / "a" / "model.toml").read_text()
        (root / "a" / "model.toml").write_text(good.replace("softmax", "broken"))
        reload()
        assert (version("a"), http.get("/v1/models/a").json()["status"]) == ("2", "ready")
        (root / "a" / "model.toml").write_text("description = 'v3'\n" + good)
        assert http.post("/v2/repository/models/a/load").status_code == 200
        assert http.get("/v1/models/a").json()["description"] == "v3"
        write_model(root, "a", COLOUR, {"3": onnx})  # found by polling alone
        _until(lambda: version("a") == "3")
        slow_toml = (root / "slow" / "model.toml").read_text()
        write_model(root, "slow", slow_toml, {"2": root / "slow" / "1" / "model.onnx"})
        _until(lambda: version("slow") == "2")
        time.sleep(0.3)
