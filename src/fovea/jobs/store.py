"""Job state in SQLite (WAL) under FOVEA_DATA_DIR: each job's spec and state, and each item with
its result, committed as it finishes. A result is written at most once per item (the first one
wins), and counters move only when it is, so a job resumed after a crash holds every item
exactly once."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fovea.errors import JobNotFound
from fovea.jobs.sources import Item

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = frozenset({"done", "failed", "cancelled"})
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL,
    total INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    finished REAL, error TEXT
);
CREATE TABLE IF NOT EXISTS items (
    job TEXT NOT NULL, seq INTEGER NOT NULL, file TEXT NOT NULL, location TEXT NOT NULL,
    kind TEXT NOT NULL, entry TEXT, failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, seq)
);
CREATE INDEX IF NOT EXISTS items_pending ON items (job, entry) WHERE entry IS NULL;
"""


@dataclass(frozen=True)
class JobRow:
    """A job as stored: `spec` is what was asked (model, params, source, options)."""

    id: str
    created: float
    state: str
    spec: dict[str, Any]
    total: int
    done: int
    failed: int
    finished: float | None
    error: str | None


class JobStore:
    """One SQLite file; safe to call from several threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: each commit survives the process being killed (not a power cut), and
            # costs no fsync: results commit one by one at full speed.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, spec: dict[str, Any], items: Sequence[Item]) -> JobRow:
        job = uuid.uuid4().hex[:12]
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, created, state, spec, total) VALUES (?, ?, 'queued', ?, ?)",
                (job, time.time(), json.dumps(spec), len(items)),
            )
            db.executemany(
                "INSERT INTO items (job, seq, file, location, kind) VALUES (?, ?, ?, ?, ?)",
                ((job, n, i.file, i.location, i.kind) for n, i in enumerate(items)),
            )
        return self.get(job)

    def get(self, job: str) -> JobRow:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job,)
            ).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job!r}; GET /v1/jobs lists them")
        return _job(row)

    def all(self) -> list[JobRow]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY created").fetchall()
        return [_job(row) for row in rows]

    def pending(self, job: str) -> list[tuple[int, Item]]:
        """Items with no result yet, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, file, location, kind FROM items WHERE job = ? AND entry IS NULL "
                "ORDER BY seq",
                (job,),
            ).fetchall()
        return [(seq, Item(file, location, kind)) for seq, file, location, kind in rows]

    def record(self, job: str, seq: int, entry: dict[str, Any], failed: bool) -> bool:
        """Commit one item's result; False (and nothing changes) if it already has one."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE items SET entry = ?, failed = ? WHERE job = ? AND seq = ? "
                "AND entry IS NULL",
                (json.dumps(entry), int(failed), job, seq),
            ).rowcount
            if changed:
                db.execute(
                    "UPDATE jobs SET done = done + 1, failed = failed + ? WHERE id = ?",
                    (int(failed), job),
                )
        return bool(changed)

    def entries(self, job: str) -> list[dict[str, Any]]:
        """Every finished item's result (MegaDetector's JSON form), in item order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT entry FROM items WHERE job = ? AND entry IS NOT NULL ORDER BY seq", (job,)
            ).fetchall()
        return [json.loads(entry) for (entry,) in rows]

    def location(self, job: str, file: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT location FROM items WHERE job = ? AND file = ?", (job, file)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, job: str, state: str, error: str | None = None) -> None:
        finished = time.time() if state in FINAL else None
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, finished = ? WHERE id = ?",
                (state, error, finished, job),
            )

    def set_spec(self, job: str, spec: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("UPDATE jobs SET spec = ? WHERE id = ?", (json.dumps(spec), job))

    def in_state(self, *states: str) -> list[JobRow]:
        return [row for row in self.all() if row.state in states]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


_JOB_COLUMNS = "id, created, state, spec, total, done, failed, finished, error"


def _job(row: tuple[Any, ...]) -> JobRow:
    job, created, state, spec, total, done, failed, finished, error = row
    return JobRow(job, created, state, json.loads(spec), total, done, failed, finished, error)
