"""A server's whole process tree: its memory, sampled while it works, and stopping all of it.

Ray and BentoML spawn several processes, some in process groups of their own and some that
outlive their parent: a server's processes are the descendants of the process the runner
started plus, when that process leads its own session, every process in the session.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Stat:
    ppid: int
    session: int
    zombie: bool


def _stat(pid: int) -> Stat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces: split after the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return Stat(ppid=int(fields[1]), session=int(fields[3]), zombie=fields[0] in "ZX")


def _all_stats() -> dict[int, Stat]:
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    return stats


def members(root: int) -> set[int]:
    """Live processes of the server started as `root`, root included."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    found |= {pid for pid, stat in stats.items() if stat.session == root}
    return {pid for pid in found if not stats[pid].zombie}


def rss_mb(pids: set[int]) -> float:
    """Resident memory of these processes added up, in MiB."""
    total_kb = 0
    for pid in pids:
        try:
            for line in (PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:  # the process ended between the listing and the read
            continue
    return total_kb / 1024


class PeakRss:
    """Samples a server's summed RSS from a small stdlib-only process, so that neither the
    sampling nor its start-up lands in the load generator's CPU time or the server's cores'
    warm-up; the sampler stops when its stdin closes, and prints the peak."""

    def __init__(self, root: int, interval_s: float = 0.5) -> None:
        self._argv = [sys.executable, __file__, str(root), str(interval_s)]
        self.peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        self._process = subprocess.Popen(
            self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._process.communicate("", timeout=30)
        self.peak_mb = float(out or 0)


def _sample(root: int, interval_s: float) -> None:
    peak = 0.0
    while True:
        peak = max(peak, rss_mb(members(root)))
        if select.select([sys.stdin], [], [], interval_s)[0]:  # stdin closed: stop
            print(peak)
            return


def stop_tree(root: int, grace_s: float = 20.0) -> list[int]:
    """SIGTERM the root alone (Ray Serve and BentoML then shut their processes down in order),
    wait up to `grace_s` for every member to end, SIGKILL those left. Returns the pids that
    had to be killed."""
    seen = members(root)
    _signal(root, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        seen |= members(root)
        if not _alive(seen):
            return []
        time.sleep(0.2)
    left = _alive(seen | members(root))
    for pid in left:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(left) and time.monotonic() < deadline:
        time.sleep(0.1)
    if survivors := _alive(left):
        raise RuntimeError(f"processes {sorted(survivors)} survived SIGKILL")
    return sorted(left)


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if (stat := _stat(pid)) is not None and not stat.zombie}


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


if __name__ == "__main__":
    _sample(int(sys.argv[1]), float(sys.argv[2]))
