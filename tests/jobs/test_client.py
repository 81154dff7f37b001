"""The Python client's job methods against a real server, sync and async alike."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from fovea.client import APIError, AsyncClient, Client
from fovea.wire import JobInfo
from tests.helpers import image_bytes
from tests.jobs.camera import planted_folder
from tests.servers import RunningServer, fovea_server


@pytest.fixture(scope="module")
def server(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("client-jobs")
    env = {"FOVEA_JOBS_ROOTS": str(root / "roots"), "FOVEA_DATA_DIR": str(root / "data")}
    planted_folder(root / "roots" / "traps", 3)
    with fovea_server(model_repo, root, **env) as running:
        yield running


def finished(client: Client, job: str) -> JobInfo:
    deadline = time.monotonic() + 60
    while (info := client.job(job)).state not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return info


def test_sync_client(server: RunningServer) -> None:
    folder = next(Path(server.log_path.parent).glob("roots/traps"))
    with Client(server.url) as client:
        job = client.start_job("yolov8-test", folder=str(folder), threshold=0.5)
        assert finished(client, job.id).done == 3
        results = json.loads(client.job_results(job.id))
        assert len(results["images"]) == 3
        assert client.job_results(job.id, "csv", threshold=0.85).count(b"\n") == 4
        first = results["images"][0]["file"]
        assert client.job_image(job.id, first) == (folder / first).read_bytes()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("a.jpg", image_bytes((1000, 600)))
        upload = client.start_job("yolov8-test", archive=archive.getvalue(), archive_name="a.zip")
        assert upload.source == {"upload": "a.zip"}
        finished(client, upload.id)
        assert client.cancel_job(upload.id).state == "done"  # too late to cancel: stays done
        assert {job.id, upload.id} <= {j.id for j in client.jobs()}
        with pytest.raises(APIError) as caught:
            client.start_job("yolov8-test", urls=["ftp://nope"])
        assert caught.value.type == "/problems/invalid-request"


def test_async_client(server: RunningServer) -> None:
    async def use() -> None:
        with anyio.fail_after(60):
            await session()

    async def session() -> None:
        async with AsyncClient(server.url) as client:
            job = await client.start_job("yolov8-test", urls=["http://10.1.1.1/x.jpg"])
            while (info := await client.job(job.id)).state != "done":
                await anyio.sleep(0.05)
            assert info.failed == 1  # a private address is refused: a failure entry
            assert job.id in {j.id for j in await client.jobs()}
            body = json.loads(await client.job_results(job.id))
            assert body["images"][0]["failure"] == "image access failure"
            assert (await client.cancel_job(job.id)).state == "done"
            with pytest.raises(APIError):
                await client.job_image(job.id, "x.jpg")

    anyio.run(use)
