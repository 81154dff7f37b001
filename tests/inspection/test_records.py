"""Records: image + JSON per kept inspection, newest first, only the newest `keep`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fovea.errors import InspectionNotFound
from fovea.inspection.records import RecordPolicy, RecordStore, new_id

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def answer(n: int, decision: str = "NOK", pattern: str = "board") -> dict[str, Any]:
    return {
        "id": new_id(START + timedelta(seconds=n)),
        "time": f"t{n}",
        "model": "inspect-test",
        "pattern": pattern,
        "decision": decision,
        "errors": 0 if decision == "OK" else 1,
        "source": "camera",
        "positions": [],
    }


@pytest.mark.parametrize(
    ("mode", "ok", "nok"), [("nok", False, True), ("all", True, True), ("none", False, False)]
)
def test_the_policy_says_what_is_kept(mode: Any, ok: bool, nok: bool) -> None:
    policy = RecordPolicy(mode)
    assert (policy.wanted("OK"), policy.wanted("NOK")) == (ok, nok)


def test_ids_sort_by_time() -> None:
    first, second = new_id(START), new_id(START + timedelta(microseconds=1))
    assert first.startswith("20250102T030405000000Z-")
    assert sorted([second, first]) == [first, second]


def test_records_list_newest_first_filter_and_read_back(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, RecordPolicy("all", keep=10))
    answers = [answer(0, "OK"), answer(1), answer(2, pattern="other"), answer(3, "OK")]
    for a in answers:
        store.save(a, b"jpeg " + a["id"].encode())
    ids = [a["id"] for a in answers]
    assert [s["id"] for s in store.list()] == ids[::-1]
    assert [s["id"] for s in store.list(decision="NOK")] == [ids[2], ids[1]]
    assert [s["id"] for s in store.list(pattern="other")] == [ids[2]]
    assert [s["id"] for s in store.list(model="x")] == []
    assert [s["id"] for s in store.list(limit=1)] == [ids[3]]
    assert store.list()[0] == {k: answers[3][k] for k in store.list()[0]}
    assert store.get(ids[1]) == answers[1]
    assert store.image(ids[1]) == b"jpeg " + ids[1].encode()


def test_retention_drops_the_oldest_records_and_their_files(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, RecordPolicy("all", keep=2))
    answers = [answer(n) for n in range(4)]
    dropped = [store.save(a, b"jpeg") for a in answers]
    assert dropped == [[], [], [answers[0]["id"]], [answers[1]["id"]]]
    kept = [a["id"] for a in answers[2:]]
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{i}{s}" for i in kept for s in (".jpg", ".json")
    )
    with pytest.raises(InspectionNotFound, match="retention"):
        store.get(answers[0]["id"])


def test_a_new_store_reads_the_folder_and_skips_damaged_records(tmp_path: Path) -> None:
    kept = answer(1)
    RecordStore(tmp_path, RecordPolicy("all")).save(kept, b"jpeg")
    damaged = new_id(START)
    (tmp_path / f"{damaged}.json").write_text("{not json")
    (tmp_path / f"{damaged}.jpg").write_bytes(b"jpeg")
    (tmp_path / f"{new_id(START)}.json").write_text("{}")  # no image: not listed
    (tmp_path / "notes.json").write_text("{}")  # not a record id
    again = RecordStore(tmp_path, RecordPolicy("all"))
    assert [s["id"] for s in again.list()] == [kept["id"]]


@pytest.mark.parametrize("record_id", ["../etc/passwd", "20250102T030405000000Z-zzzzzz", "x"])
def test_unknown_or_malformed_ids_are_not_found(tmp_path: Path, record_id: str) -> None:
    store = RecordStore(tmp_path, RecordPolicy())
    with pytest.raises(InspectionNotFound):
        store.image(record_id)
    assert store.list() == []  # the folder may not exist yet
