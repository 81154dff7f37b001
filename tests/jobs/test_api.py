"""Server jobs over the API: folders under the allowed roots, URL lists and zip uploads; state,
progress, results in every format while running and after, cancelling, and what is refused."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import local_http
from tests.helpers import image_bytes
from tests.jobs.camera import planted_folder
from tests.jobs.validator import megadetector_problems


def wait(
    client: TestClient, job: str, states: tuple[str, ...] = ("done",), timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info: dict[str, Any] = client.get(f"/v1/jobs/{job}").json()
        if info["state"] in states:
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job} not in {states} within {timeout_s} s: {info}")


def start(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    info: dict[str, Any] = response.json()
    return info


def test_folder_job_from_start_to_results_in_every_format(
    jobs_client: TestClient, jobs_root: Path, tmp_path: Path
) -> None:
    folder = planted_folder(jobs_root / "lifecycle", 5)
    (folder / "site" / "broken.jpg").write_bytes(b"nope")
    (folder / "site" / "notes.txt").write_text("not an image")
    job = start(jobs_client, model="yolov8-test", source={"folder": str(folder)}, threshold=0.2)
    assert job["state"] in ("queued", "running")
    assert (job["total"], job["source"]) == (6, {"folder": str(folder.resolve())})
    info = wait(jobs_client, job["id"])
    assert (info["done"], info["failed"], info["error"]) == (6, 1, None)
    assert info["finished"] >= info["created"]
    assert job["id"] in [j["id"] for j in jobs_client.get("/v1/jobs").json()["jobs"]]

    results = jobs_client.get(f"/v1/jobs/{job['id']}/results")
    assert results.headers["content-type"] == "application/json"
    path = tmp_path / "results.json"
    path.write_bytes(results.content)
    assert megadetector_problems(path, image_root=folder) == []
    body = results.json()
    assert [i["file"] for i in body["images"]][:2] == ["site/broken.jpg", "site/img-0000.jpg"]
    assert [d["category"] for d in body["images"][1]["detections"]] == ["2", "3"]  # dog, person
    assert "width" not in body["images"][1]

    coco = jobs_client.get(f"/v1/jobs/{job['id']}/results", params={"format": "coco"})
    assert coco.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(coco.content)).namelist()
    assert sorted(names) == ["dataset.json", "results.json"]
    csv_rows = jobs_client.get(f"/v1/jobs/{job['id']}/results?format=csv&threshold=0.85").text
    assert csv_rows.count("\n") == 1 + 1 + 5  # header, the failure, one dog per image
    for fmt in ("yolo", "voc"):
        answer = jobs_client.get(f"/v1/jobs/{job['id']}/results", params={"format": fmt})
        assert answer.status_code == 200
        assert "attachment" in answer.headers["content-disposition"]
    bad = jobs_client.get(f"/v1/jobs/{job['id']}/results", params={"format": "parquet"})
    assert bad.json()["type"] == "/problems/invalid-parameter"

    image = jobs_client.get(f"/v1/jobs/{job['id']}/image", params={"file": "site/img-0001.jpg"})
    assert (image.status_code, image.headers["content-type"]) == (200, "image/jpeg")
    assert image.content == (folder / "site" / "img-0001.jpg").read_bytes()
    missing = jobs_client.get(f"/v1/jobs/{job['id']}/image", params={"file": "../../etc/passwd"})
    assert missing.json()["type"] == "/problems/job-not-found"


def test_url_job_with_a_failing_url(jobs_client: TestClient) -> None:
    with local_http.serve() as base:
        urls = [f"{base}/image.jpg", f"{base}/missing", "http://10.0.0.1/private.jpg"]
        job = start(
            jobs_client, model="yolov8-test", source={"urls": urls}, include_image_size=True
        )
        wait(jobs_client, job["id"])
    images = jobs_client.get(f"/v1/jobs/{job['id']}/results").json()["images"]
    by_file = {i["file"]: i for i in images}
    assert (by_file[urls[0]]["width"], by_file[urls[0]]["height"]) == (1000, 600)
    assert by_file[urls[1]]["failure"] == by_file[urls[2]]["failure"] == "image access failure"
    assert job["source"] == {"urls": 3}
    gone = jobs_client.get(f"/v1/jobs/{job['id']}/image", params={"file": urls[0]})
    assert gone.status_code == 404  # URL images are not kept


def zipped(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_zip_upload_job(jobs_client: TestClient) -> None:
    archive = zipped(
        {
            "cam/a.jpg": image_bytes((1000, 600)),
            "cam/B.JPG": image_bytes((600, 1000)),
            "readme.txt": b"hi",
        }
    )
    response = jobs_client.post(
        "/v1/jobs",
        files={"file": ("traps.zip", archive, "application/zip")},
        data={"model": "yolov8-test", "threshold": "0.5", "include_image_size": "true"},
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert (job["total"], job["source"]) == (2, {"upload": "traps.zip"})
    wait(jobs_client, job["id"])
    images = jobs_client.get(f"/v1/jobs/{job['id']}/results").json()["images"]
    assert [(i["file"], i["width"], len(i["detections"])) for i in images] == [
        ("cam/B.JPG", 600, 2),
        ("cam/a.jpg", 1000, 2),
    ]


@pytest.mark.parametrize(
    ("archive", "detail"),
    [
        (zipped({"../../escape.jpg": b"x"}), "outside itself"),
        (zipped({"/abs/a.jpg": b"x"}), "outside itself"),
        (zipped({"a.jpg": b"x"}, symlink="link.jpg"), "symlink"),
        (zipped({"bomb.jpg": b"\0" * 3_000_000}), "unpacks to more than"),
        (b"PK\x03\x04 not really a zip", "not a readable zip"),
    ],
)
def test_hostile_zips_are_refused(jobs_client: TestClient, archive: bytes, detail: str) -> None:
    response = jobs_client.post(
        "/v1/jobs", files={"file": ("x.zip", archive)}, data={"model": "yolov8-test"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/archive-refused"
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("kwargs", "status", "problem"),
    [
        ({"json": {"model": "yolov8-test", "source": {"folder": "/etc"}}}, 403, "folder-refused"),
        (
            {"json": {"model": "yolov8-test", "source": {"folder": "/tmp/../etc"}}},
            403,
            "folder-refused",
        ),
        (
            {"json": {"model": "nope", "source": {"urls": ["http://a.org/x.jpg"]}}},
            404,
            "model-not-found",
        ),
        (
            {"json": {"model": "colour-test", "source": {"urls": ["http://a.org/x.jpg"]}}},
            422,
            "invalid-parameter",
        ),
        (
            {"json": {"model": "yolov8-test", "source": {"urls": ["ftp://a.org/x.jpg"]}}},
            400,
            "invalid-request",
        ),
        ({"json": {"model": "yolov8-test", "source": {}}}, 422, "invalid-parameter"),
        (
            {"json": {"model": "yolov8-test", "source": {"urls": ["http://a"]}, "threshold": 2}},
            422,
            "invalid-parameter",
        ),
        (
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
            400,
            "invalid-request",
        ),
        (
            {"content": b"x", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported-media-type",
        ),
        (
            {"files": {"file": ("a.zip", b"x")}, "data": {"threshold": "0.1"}},
            400,
            "invalid-request",
        ),
        ({"files": {"other": ("a.zip", b"x")}, "data": {"model": "m"}}, 400, "invalid-request"),
        (
            {"files": {"file": ("a.zip", b"x")}, "data": {"model": "m", "threshold": "x"}},
            422,
            "invalid-parameter",
        ),
        (
            {"files": {"file": ("a.zip", b"x")}, "data": {"model": "m", "threshold": "7"}},
            422,
            "invalid-parameter",
        ),
    ],
)
def test_bad_job_requests(
    jobs_client: TestClient, kwargs: dict[str, Any], status: int, problem: str
) -> None:
    response = jobs_client.post("/v1/jobs", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{problem}"


def test_unknown_job(jobs_client: TestClient) -> None:
    for method, path in (
        ("GET", "/v1/jobs/nope"),
        ("DELETE", "/v1/jobs/nope"),
        ("GET", "/v1/jobs/nope/results"),
    ):
        response = jobs_client.request(method, path)
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/job-not-found"


def test_results_while_running_then_cancel(
    jobs_client: TestClient, jobs_root: Path, tmp_path: Path
) -> None:
    folder = planted_folder(jobs_root / "slow", 200)
    job = start(jobs_client, model="overload-test", source={"folder": str(folder)})
    running = wait(jobs_client, job["id"], ("running",))
    deadline = time.monotonic() + 30
    # The rate shows once the job has run half a second and finished an image.
    while (running["done"] < 3 or running["images_per_s"] is None) and running["done"] < 50:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        running = jobs_client.get(f"/v1/jobs/{job['id']}").json()
    assert running["images_per_s"] is not None
    assert running["eta_s"] is not None
    partial = tmp_path / "partial.json"
    partial.write_bytes(jobs_client.get(f"/v1/jobs/{job['id']}/results").content)
    assert megadetector_problems(partial) == []
    assert 3 <= len(json.loads(partial.read_text())["images"]) < 200
    # An interactive request on the model the job keeps busy is served meanwhile.
    predicted = jobs_client.post(
        "/v1/models/overload-test/predict", files={"file": ("a.jpg", image_bytes((100, 60)))}
    )
    assert predicted.status_code == 200
    assert jobs_client.get(f"/v1/jobs/{job['id']}").json()["state"] == "running"
    cancelled = jobs_client.delete(f"/v1/jobs/{job['id']}").json()
    assert cancelled["state"] == "cancelled"
    time.sleep(0.3)
    after = jobs_client.get(f"/v1/jobs/{job['id']}").json()
    assert after["state"] == "cancelled"
    assert after["done"] < 200
    assert jobs_client.delete(f"/v1/jobs/{job['id']}").json()["state"] == "cancelled"


def test_two_jobs_share_the_model(jobs_client: TestClient, jobs_root: Path) -> None:
    first = start(
        jobs_client,
        model="overload-test",
        source={"folder": str(planted_folder(jobs_root / "one", 30))},
    )
    second = start(
        jobs_client,
        model="overload-test",
        source={"folder": str(planted_folder(jobs_root / "two", 30))},
    )
    deadline = time.monotonic() + 60
    done = [0, 0]
    while sum(done) < 20 and time.monotonic() < deadline:
        done = [jobs_client.get(f"/v1/jobs/{j['id']}").json()["done"] for j in (first, second)]
        time.sleep(0.05)
    assert min(done) >= 5, done  # neither waits for the other to finish
    for job in (first, second):
        jobs_client.delete(f"/v1/jobs/{job['id']}")
