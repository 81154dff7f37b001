"""The Ray engine's pieces in this process, without a cluster: the ingress app (Fovea's own
routes) with `RayService`, whose handles here call real `ModelReplica` objects through a pickle
round trip (what crossing to a replica process does to arguments and answers). Answers must equal
the local engine's, timings aside; Ray's own failures become Fovea's 503 problems."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from ray.exceptions import ActorDiedError
from ray.serve.exceptions import BackPressureError

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.engines.ray import deployments
from fovea.engines.ray.deployments import Ingress, ModelReplica
from fovea.engines.ray.service import Answer, _unavailable
from fovea.errors import ModelConfigError, ModelNotFound, ModelUnavailable, Overloaded
from fovea.serving import Priority
from tests.helpers import image_bytes

MODELS = ("yolov8-test", "colour-test", "pipeline-test")
PHOTO = Path(__file__).parents[1] / "fixtures" / "photos" / "chelsea.jpg"
HEADER = "Inference-Header-Content-Length"


class _Method:
    def __init__(self, handle: FakeHandle, name: str) -> None:
        self.handle, self.name = handle, name

    async def remote(self, *args: Any) -> Answer:
        self.handle.calls += 1
        if self.handle.failures:
            raise self.handle.failures.pop(0)
        sent = pickle.loads(pickle.dumps(args))
        answer = await getattr(self.handle.replica, self.name)(*sent)
        return pickle.loads(pickle.dumps(answer))  # type: ignore[no-any-return]


class FakeHandle:
    """A DeploymentHandle's `.run.remote(...)` / `.infer.remote(...)` onto a replica object."""

    def __init__(self, replica: ModelReplica) -> None:
        self.replica = replica
        self.calls = 0
        self.failures: list[Exception] = []

    @property
    def run(self) -> _Method:
        return _Method(self, "run")

    @property
    def infer(self) -> _Method:
        return _Method(self, "infer")


@pytest.fixture(scope="module")
def settings(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        model_repository=model_repo,
        workers=2,
        max_images_per_request=8,
        data_dir=tmp_path_factory.mktemp("data"),
        grpc_port=None,
    )


@pytest.fixture(scope="module")
def handles() -> dict[str, FakeHandle]:
    return {}


@pytest.fixture(scope="module")
def ray_client(settings: Settings, handles: dict[str, FakeHandle]) -> Iterator[TestClient]:
    """The ingress's app, with a replica per model made on the app's own event loop."""
    mp = pytest.MonkeyPatch()
    mp.setattr(deployments, "_whoami", lambda: ("replica-a", "node-1"))
    ingress = Ingress(settings, handles)  # type: ignore[arg-type]
    with TestClient(ingress.__serve_build_asgi_app__()) as client:
        for name in MODELS:

            async def make(name: str = name) -> ModelReplica:
                replica = ModelReplica.__new__(ModelReplica)
                await replica.__init__(settings, name)  # type: ignore[misc]
                return replica

            assert client.portal is not None
            handles[name] = FakeHandle(client.portal.call(make))
        yield client
    mp.undo()


@pytest.fixture(scope="module")
def local_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _without_timing(body: dict[str, Any]) -> dict[str, Any]:
    for output in body.get("outputs", []):
        output.pop("timing", None)
    return body


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("yolov8-test", ""),
        ("yolov8-test", "?version=1"),
        ("colour-test", "?top_k=2"),
        ("pipeline-test", ""),
    ],
)
def test_predict_answers_as_the_local_engine(
    ray_client: TestClient, local_client: TestClient, model: str, query: str
) -> None:
    files = [
        ("files", ("a.jpg", PHOTO.read_bytes(), "image/jpeg")),
        ("files", ("b.png", image_bytes((640, 480), (200, 30, 30), "PNG"), "image/png")),
        ("files", ("bad.jpg", b"no image", "image/jpeg")),
    ]
    there = ray_client.post(f"/v1/models/{model}/predict{query}", files=files)
    here = local_client.post(f"/v1/models/{model}/predict{query}", files=files)
    assert there.status_code == here.status_code == 200
    assert _without_timing(there.json()) == _without_timing(here.json())
    assert there.json()["errors"]["bad.jpg"]["status"] == 422
    assert there.headers["x-fovea-replica"] == "replica-a"
    assert there.headers["x-fovea-node"] == "node-1"


def test_render_draws_in_the_ingress_on_the_replica_s_answer(
    ray_client: TestClient, local_client: TestClient
) -> None:
    files = {"files": ("a.jpg", PHOTO.read_bytes(), "image/jpeg")}
    there = ray_client.post("/v1/models/yolov8-test/render", files=files)
    here = local_client.post("/v1/models/yolov8-test/render", files=files)
    assert there.status_code == 200
    assert there.content == here.content


def test_v2_tensors_and_the_pipeline_view(ray_client: TestClient, local_client: TestClient) -> None:
    batch = np.full((1, 3, 32, 32), 0.1, np.float32)
    batch[0, 2] = 0.9
    for path, content in (
        ("/v2/models/colour-test/infer", batch.tobytes()),
        ("/v2/models/colour-test.pipeline/infer", image_bytes((50, 50), (10, 10, 240), "PNG")),
    ):
        there = ray_client.post(path, content=content, headers={HEADER: "0"})
        here = local_client.post(path, content=content, headers={HEADER: "0"})
        assert there.status_code == 200, there.text
        if "pipeline" not in path:
            assert there.content == here.content


def test_a_replica_returns_its_errors_as_answers(
    ray_client: TestClient, handles: dict[str, FakeHandle]
) -> None:
    batch = np.zeros((1, 3, 32, 32), np.float32)
    assert ray_client.portal is not None
    pipeline = handles["pipeline-test"].replica
    answer = ray_client.portal.call(pipeline.infer, "1", batch, Priority.INTERACTIVE)
    assert isinstance(answer.error, ModelConfigError)
    colour = handles["colour-test"].replica
    answer = ray_client.portal.call(colour.infer, "9", batch, Priority.INTERACTIVE)
    assert isinstance(answer.error, ModelNotFound)
    assert answer.replica == "replica-a"


def test_errors_of_ray_become_fovea_problems(
    ray_client: TestClient, handles: dict[str, FakeHandle]
) -> None:
    files = {"files": ("a.jpg", PHOTO.read_bytes(), "image/jpeg")}
    handle = handles["yolov8-test"]
    handle.failures = [ActorDiedError()]  # retried once, on a live replica
    before = handle.calls
    assert ray_client.post("/v1/models/yolov8-test/predict", files=files).status_code == 200
    assert handle.calls - before == 2
    handle.failures = [ActorDiedError(), ActorDiedError()]
    died = ray_client.post("/v1/models/yolov8-test/predict", files=files)
    assert died.status_code == 503
    assert died.json()["type"].endswith("model-unavailable")
    assert died.headers["retry-after"] == "1"
    handle.failures = [BackPressureError(num_queued_requests=9, max_queued_requests=8)]
    full = ray_client.post("/v1/models/yolov8-test/predict", files=files)
    assert full.status_code == 503
    assert full.json()["type"].endswith("overloaded")


def test_a_model_without_a_deployment_is_unavailable(ray_client: TestClient) -> None:
    files = {"files": ("a.jpg", PHOTO.read_bytes(), "image/jpeg")}
    response = ray_client.post("/v1/models/yolov5-test/predict", files=files)
    assert response.status_code == 503
    assert "no deployment" in response.json()["detail"]


def test_unexpected_errors_pass_through() -> None:
    error = RuntimeError("bug")
    assert _unavailable("m", error) is error
    assert isinstance(_unavailable("m", ActorDiedError()), ModelUnavailable)
    assert isinstance(_unavailable("m", BackPressureError(1, 1)), Overloaded)
