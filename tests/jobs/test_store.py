"""The job store: results committed one by one, each item's first result the only one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fovea.errors import JobNotFound
from fovea.jobs.sources import Item
from fovea.jobs.store import JobStore


def items(count: int) -> list[Item]:
    return [Item(f"img-{n}.jpg", f"/data/img-{n}.jpg") for n in range(count)]


def test_each_item_is_recorded_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    row = store.create({"model": "m"}, items(3))
    assert (row.state, row.total, row.done) == ("queued", 3, 0)
    assert store.record(row.id, 1, {"file": "img-1.jpg", "detections": []}, failed=False)
    assert not store.record(row.id, 1, {"file": "img-1.jpg", "detections": None}, failed=True)
    assert store.record(row.id, 2, {"file": "img-2.jpg", "failure": "x", "detections": None}, True)
    assert [seq for seq, _ in store.pending(row.id)] == [0]
    job = store.get(row.id)
    assert (job.done, job.failed) == (2, 1)
    assert store.entries(row.id) == [
        {"file": "img-1.jpg", "detections": []},
        {"file": "img-2.jpg", "failure": "x", "detections": None},
    ]
    assert store.location(row.id, "img-0.jpg") == "/data/img-0.jpg"
    assert store.location(row.id, "nope.jpg") is None
    store.close()


def test_state_survives_reopening_and_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    row = store.create({"model": "m"}, items(200))

    def write(start: int) -> None:
        for seq in range(start, 200, 4):
            for _ in range(2):  # a second writer of the same item changes nothing
                store.record(row.id, seq, {"file": f"img-{seq}.jpg", "detections": []}, False)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.set_state(row.id, "done")
    store.close()
    again = JobStore(path)
    job = again.get(row.id)
    assert (job.state, job.done, job.failed) == ("done", 200, 0)
    assert job.finished is not None
    assert len(again.entries(row.id)) == 200
    assert [j.id for j in again.in_state("done")] == [row.id]
    with pytest.raises(JobNotFound):
        again.get("nope")
    again.close()
