"""`fovea serve --engine ray` on a real two-node Ray cluster on 127.0.0.1 (conftest.py: a head
and a worker node, one CPU each, started once per session): a replica of the model on each
node, answers equal to the local engine's for predict and KServe V2, errors that stay 4xx
problems, health, Fovea's metrics and Ray's (by replica), and a killed replica that Ray
restarts while the service keeps answering. Marked `ray`."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient

from fovea.protocols.kserve_v2 import tensors
from tests.ray_engine import cluster as ray_cluster
from tests.ray_engine.conftest import PHOTOS, Served, full_only

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]
HEADER = "Inference-Header-Content-Length"


def _without_timing(body: dict[str, Any]) -> dict[str, Any]:
    for output in body.get("outputs", []):
        output.pop("timing", None)
    return body


def _predict(url: str, photo: str) -> httpx.Response:
    files = {"files": (photo, (PHOTOS / photo).read_bytes(), "image/jpeg")}
    return httpx.post(f"{url}/v1/models/coco/predict", files=files, timeout=60)


def test_predict_is_answered_by_a_replica_on_each_node_as_locally(
    served: Served, local: TestClient
) -> None:
    photos = ["chelsea.jpg", "person_horse_dog.jpg", "motorcycle.jpg", "coffee.jpg"]
    expected = {
        p: _without_timing(
            local.post(
                "/v1/models/coco/predict",
                files={"files": (p, (PHOTOS / p).read_bytes(), "image/jpeg")},
            ).json()
        )
        for p in photos
    }
    nodes: set[str] = set()
    replicas: set[str] = set()
    for round_ in range(12):  # Serve's router picks the less busy of two: both get some
        for photo in photos:
            response = _predict(served.url, photo)
            assert response.status_code == 200, response.text
            assert _without_timing(response.json()) == expected[photo]
            nodes.add(response.headers["x-fovea-node"])
            replicas.add(response.headers["x-fovea-replica"])
        if len(nodes) == 2 and round_ >= 2:
            break
    assert len(nodes) == 2, f"answered only by {nodes}"
    assert len(replicas) == 2


def test_v2_infer_and_the_pipeline_view_answer_as_locally(
    served: Served, local: TestClient
) -> None:
    rng = np.random.default_rng(0)
    batch = rng.random((1, 3, 416, 416), np.float32)
    headers = {HEADER: "0"}
    here = local.post("/v2/models/coco/infer", content=batch.tobytes(), headers=headers)
    assert int(here.headers[HEADER]) > 0
    expected = _split(here.content, here.headers)
    nodes: set[str] = set()
    for _ in range(24):  # until both nodes have answered (bounded)
        there = httpx.post(
            f"{served.url}/v2/models/coco/infer",
            content=batch.tobytes(),
            headers=headers,
            timeout=60,
        )
        assert there.status_code == 200, there.text
        # Every output tensor, bit for bit, and the same JSON head.
        assert _split(there.content, there.headers) == expected
        nodes.add(there.headers["x-fovea-node"])
        if len(nodes) == 2:
            break
    assert len(nodes) == 2, f"V2 answered only by {nodes}"
    photo = (PHOTOS / "chelsea.jpg").read_bytes()
    view = httpx.post(
        f"{served.url}/v2/models/coco.pipeline/infer", content=photo, headers=headers, timeout=60
    )
    assert view.status_code == 200, view.text
    local_view = local.post("/v2/models/coco.pipeline/infer", content=photo, headers=headers)
    assert _detections(view) == _detections(local_view)


def test_errors_stay_problems(served: Served) -> None:
    bad = httpx.post(
        f"{served.url}/v1/models/coco/predict",
        files={"files": ("x.jpg", b"not an image", "image/jpeg")},
        timeout=60,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"].endswith("image-decode")
    assert httpx.get(f"{served.url}/v1/models/nope", timeout=30).status_code == 404
    wrong = httpx.post(
        f"{served.url}/v2/models/coco/infer",
        content=np.zeros((1, 3, 8, 8), np.float32).tobytes(),
        headers={HEADER: "0"},
        timeout=60,
    )
    assert 400 <= wrong.status_code < 500, wrong.text


def test_every_ray_and_fovea_server_listens_on_loopback_only(served: Served) -> None:
    pids = {process.pid for process in ray_cluster.marked(served.cluster.tag)}
    listening = [
        c.laddr
        for c in psutil.net_connections(kind="inet")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) > 10  # GCS, raylets, object managers, agents, proxies, replicas
    hosts = {addr[0] for addr in listening if addr}
    assert hosts <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening


def test_health(served: Served) -> None:
    for path in ("/health/live", "/health/ready", "/v2/health/ready"):
        assert httpx.get(served.url + path, timeout=30).status_code == 200, path


def test_metrics_ray_and_fovea_by_replica(served: Served) -> None:
    fovea = httpx.get(f"{served.url}/metrics", timeout=30).text
    assert 'fovea_images_total{model="coco",outcome="ok"}' in fovea
    replicas: set[str] = set()
    deadline = time.monotonic() + 60  # Ray's agent exports every few seconds
    while len(replicas) < 2 and time.monotonic() < deadline:
        replicas = set()
        for node in served.cluster.nodes:
            text = httpx.get(
                f"http://{ray_cluster.HOST}:{node.metrics_port}/metrics", timeout=30
            ).text
            for line in text.splitlines():
                if line.startswith("ray_fovea_replica_images_total{") and 'outcome="ok"' in line:
                    replicas.add(line.split('replica="')[1].split('"')[0])
            if "ray_serve_" not in text:
                replicas = set()
        time.sleep(2)
    assert len(replicas) == 2, "each replica's images, tagged with its replica id"


@pytest.mark.parametrize("node", ["worker", pytest.param("head", marks=full_only())])
def test_a_killed_replica_is_restarted_and_no_request_beyond_its_own_fails(
    served: Served, node: str
) -> None:
    replicas = _replica_processes(getattr(served.cluster, node), "model-coco")
    assert replicas, f"no coco replica on the {node} node"
    victim = replicas[0]
    results: list[int] = []
    seen_after: set[str] = set()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                files = {"files": ("c.jpg", (PHOTOS / "chelsea.jpg").read_bytes(), "image/jpeg")}
                try:
                    response = http.post(f"{served.url}/v1/models/coco/predict", files=files)
                    results.append(response.status_code)
                    if response.status_code == 200:
                        seen_after.add(response.headers["x-fovea-replica"])
                except httpx.HTTPError:
                    results.append(0)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    before = len(results)
    victim.kill()
    seen_after.clear()
    restarted = False
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not restarted:
        time.sleep(2)
        # Ray starts a replica again, on whichever node has room.
        now = _replicas(served.cluster, "model-coco")
        restarted = len(now) == 2 and victim not in now
    time.sleep(3)  # requests reach the new replica too
    stop.set()
    for thread in threads:
        thread.join(90)
    failed = [code for code in results[before:] if code != 200]
    assert before > 0
    assert restarted, "Ray did not start the replica again"
    # At most the requests in flight on the killed replica (one per client) may fail; the
    # facade sends those once more to a live one, so none should.
    assert len(failed) <= 2, failed
    assert len(results) - before > 10


def _replicas(cluster: ray_cluster.Cluster, deployment: str) -> list[psutil.Process]:
    return [p for node in cluster.nodes for p in _replica_processes(node, deployment)]


def _replica_processes(node: ray_cluster.Node, deployment: str) -> list[psutil.Process]:
    """The node's replica processes of `deployment` (Ray names them ray::ServeReplica:...)."""
    found = []
    for process in node.processes():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped
                continue
            if f"ServeReplica:fovea:{deployment}" in " ".join(process.cmdline()[:1]):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _split(content: bytes, headers: httpx.Headers | Any) -> tuple[dict[str, Any], bytes]:
    size = int(headers[HEADER])
    return json.loads(content[:size]), content[size:]


def _detections(response: Any) -> list[dict[str, Any]]:
    head, rest = _split(response.content, response.headers)
    [text] = tensors.from_binary("BYTES", head["outputs"][0]["shape"], rest).tolist()
    body = json.loads(text)
    body.pop("timing", None)
    return [body]
