"""The remote backend session against a scripted V2 server: retries, the circuit breaker, and
which failures are 502 and which 503."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from fovea.bench.server import free_port
from fovea.core import Classes
from fovea.errors import BackendError, BackendUnavailable, ModelConfigError
from fovea.models import Repository, ServedModel
from fovea.protocols.kserve_v2 import tensors
from fovea.runtime.remote import CircuitBreaker, RemoteModel
from fovea.runtime.remote_options import RemoteOptions

METADATA = {
    "name": "m",
    "platform": "onnx_onnxv1",
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3, 32, 32]}],
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}],
}


class Script:
    """What the fake server answers to infer, one status per call (then 200s)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.calls = 0
        self.delay_s = 0.0


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(200, json.dumps(METADATA).encode())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.calls += 1
            time.sleep(script.delay_s)
            status = script.statuses.pop(0) if script.statuses else 200
            if status != 200:
                self._send(status, json.dumps({"error": f"scripted {status}"}).encode())
                return
            size = int(self.headers["Inference-Header-Content-Length"])
            batch = len(
                tensors.from_binary(
                    "FP32", json.loads(body[:size])["inputs"][0]["shape"], body[size:]
                )
            )
            out = tensors.to_binary(np.full((batch, 3), 0.5, np.float32), "FP32")
            head = json.dumps(
                {
                    "outputs": [
                        {
                            "name": "y",
                            "datatype": "FP32",
                            "shape": [batch, 3],
                            "parameters": {"binary_data_size": len(out)},
                        }
                    ]
                }
            ).encode()
            self._send(200, head + out, {"Inference-Header-Content-Length": str(len(head))})

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake() -> Iterator[tuple[str, Script]]:
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", script
    finally:
        server.shutdown()
        server.server_close()


def _remote(url: str, **options: object) -> RemoteModel:
    return RemoteModel(RemoteOptions(url=url, model="m", **options))  # type: ignore[arg-type]


def test_metadata_and_a_run(fake: tuple[str, Script]) -> None:
    url, _ = fake
    remote = _remote(url)
    assert (remote.input.name, remote.input.shape, remote.fixed_batch) == (
        "x",
        (-1, 3, 32, 32),
        None,
    )
    assert remote.output_names == ["y"]
    assert remote.platform == "onnx_onnxv1"
    out = remote.run(np.zeros((2, 3, 32, 32), np.float32))
    np.testing.assert_array_equal(out["y"], np.full((2, 3), 0.5, np.float32))
    assert remote.available
    remote.close()


def test_a_refusal_is_retried(fake: tuple[str, Script]) -> None:
    url, script = fake
    remote = _remote(url, retries=2)
    script.statuses = [503, 503]
    assert remote.run(np.zeros((1, 3, 32, 32), np.float32))["y"].shape == (1, 3)
    assert script.calls == 3  # two refusals, then the answer
    remote.close()


def test_an_error_answer_is_502_and_not_retried(fake: tuple[str, Script]) -> None:
    url, script = fake
    remote = _remote(url, retries=2, breaker_failures=5)
    script.statuses = [500]
    with pytest.raises(BackendError, match="answered 500: scripted 500") as caught:
        remote.run(np.zeros((1, 3, 32, 32), np.float32))
    assert caught.value.status == 502
    assert script.calls == 1
    remote.close()


def test_a_timeout_is_503(fake: tuple[str, Script]) -> None:
    url, script = fake
    remote = _remote(url, timeout_s=0.2, breaker_failures=5)
    script.delay_s = 0.5
    with pytest.raises(BackendUnavailable, match="no answer in time"):
        remote.run(np.zeros((1, 3, 32, 32), np.float32))
    remote.close()


def test_the_breaker_opens_then_lets_a_call_through(fake: tuple[str, Script]) -> None:
    url, script = fake
    remote = _remote(url, retries=0, breaker_failures=2, breaker_reset_s=0.3)
    script.statuses = [503, 503]
    batch = np.zeros((1, 3, 32, 32), np.float32)
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="answered 503"):
            remote.run(batch)
    assert not remote.available
    with pytest.raises(BackendUnavailable, match="circuit breaker open"):
        remote.run(batch)
    assert script.calls == 2  # the open breaker did not call
    time.sleep(0.35)
    assert remote.available
    assert remote.run(batch)["y"].shape == (1, 3)
    remote.close()


def test_breaker_alone() -> None:
    breaker = CircuitBreaker(failures=1, reset_s=60)
    breaker.check("x")
    breaker.failed()
    assert breaker.is_open
    breaker.succeeded()
    assert not breaker.is_open


def test_a_backend_that_cannot_be_reached() -> None:
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        _remote(f"http://127.0.0.1:{free_port()}", retries=1)


def test_inputs_must_be_chosen_when_several(fake: tuple[str, Script]) -> None:
    url, _ = fake
    with pytest.raises(ModelConfigError, match="has no input 'z'"):
        RemoteModel(RemoteOptions(url=url, model="m"), "z")


BACKEND_TOML = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
[input]
size = [32, 32]
resize = "stretch"
[backend]
url = "{url}"
model = "m"
retries = 0
"""


def test_a_model_whose_backend_is_down_loads_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "models" / "remote"
    folder.mkdir(parents=True)
    (folder / "model.toml").write_text(BACKEND_TOML.format(url=f"http://127.0.0.1:{port}"))
    repo = Repository(tmp_path / "models")
    repo.scan()
    repo.load_all()
    entry = repo.entries["remote"]
    assert (entry.status, entry.versions) == ("unavailable", ["1"])
    assert "cannot connect" in (entry.error or "")
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(script))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        report = repo.reload(retry_failed=False)  # as polling does: unavailable is retried
        assert report.reloaded == ["remote"]
        model = repo.get("remote")
        top = model.predict(np.zeros((40, 40, 3), np.uint8)).result
        assert isinstance(top, Classes)
        assert top.class_name[0] == "red"
        assert isinstance(model, ServedModel)
        assert model.session.providers == [f"remote http http://127.0.0.1:{port} m"]
    finally:
        server.shutdown()
        server.server_close()
        for served in repo.entries["remote"].served.values():
            assert isinstance(served, ServedModel)
            served.session.close()
