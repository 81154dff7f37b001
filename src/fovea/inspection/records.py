"""Inspection records: each kept inspection as `ID.jpg` (the photo judged) and `ID.json` (the
answer, as the API gave it) in one folder, only the newest `keep`. Ids sort by time.

The index of summaries lives in memory, read from the folder on first use, so listing never
parses every file again. One process owns the folder.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fovea.errors import InspectionNotFound
from fovea.inspection._atomic import write_atomic

RecordMode = Literal["nok", "all", "none"]
_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
SUMMARY_KEYS = ("id", "time", "model", "pattern", "decision", "errors", "source")


@dataclass(frozen=True)
class RecordPolicy:
    """Which inspections to keep (`nok`, `all` or `none`) and how many at most."""

    mode: RecordMode = "nok"
    keep: int = 1000

    def wanted(self, decision: str) -> bool:
        return self.mode == "all" or (self.mode == "nok" and decision == "NOK")


def new_id(now: datetime | None = None) -> str:
    """`20250102T030405123456Z-1a2b3c`: the time to the microsecond, then 3 random bytes."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{secrets.token_hex(3)}"


class RecordStore:
    def __init__(self, folder: Path, policy: RecordPolicy) -> None:
        self.folder, self.policy = folder, policy
        self._lock = threading.Lock()
        self._index: dict[str, dict[str, Any]] | None = None  # id -> summary, oldest first

    def save(self, answer: Mapping[str, Any], jpeg: bytes) -> list[str]:
        """Write one record (its `id` is in `answer`); returns the ids dropped for retention."""
        record_id = str(answer["id"])
        write_atomic(self.folder / f"{record_id}.jpg", jpeg)  # first: a listed record has both
        write_atomic(self.folder / f"{record_id}.json", json.dumps(answer).encode())
        with self._lock:
            index = self._loaded()
            index[record_id] = _summary(answer)
            dropped = list(index)[: max(0, len(index) - self.policy.keep)]
            for old in dropped:
                del index[old]
        for old in dropped:
            for suffix in (".json", ".jpg"):
                (self.folder / f"{old}{suffix}").unlink(missing_ok=True)
        return dropped

    def list(
        self,
        decision: str | None = None,
        pattern: str | None = None,
        model: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Summaries, newest first, filtered by what is given."""
        with self._lock:
            summaries = list(self._loaded().values())
        wanted = {"decision": decision, "pattern": pattern, "model": model}
        kept = [
            s for s in reversed(summaries) if all(v is None or s[k] == v for k, v in wanted.items())
        ]
        return kept[:limit]

    def get(self, record_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self._file(record_id, ".json").read_bytes())
        return answer

    def image(self, record_id: str) -> bytes:
        return self._file(record_id, ".jpg").read_bytes()

    def _file(self, record_id: str, suffix: str) -> Path:
        path = self.folder / f"{record_id}{suffix}"
        if not _ID.match(record_id) or not path.is_file():
            raise InspectionNotFound(
                f"no inspection {record_id!r}: it was never kept, or passed the retention limit "
                "(FOVEA_INSPECT_KEEP)"
            )
        return path

    def _loaded(self) -> dict[str, dict[str, Any]]:
        if self._index is None:
            self._index = {}
            paths = sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []
            for path in paths:
                if _ID.match(path.stem) and path.with_suffix(".jpg").is_file():
                    try:
                        self._index[path.stem] = _summary(json.loads(path.read_bytes()))
                    except (OSError, ValueError, KeyError, TypeError):
                        continue  # a damaged record is not listed; the others are
        return self._index


def _summary(answer: Mapping[str, Any]) -> dict[str, Any]:
    return {key: answer[key] for key in SUMMARY_KEYS}
