"""glibc malloc tuning for a server that allocates multi-MB buffers per image.

With glibc's dynamic thresholds, freed image buffers go back to the kernel after every image and
fault in again on the next (~2,400 minor faults, ~25% of throughput here: PERF_NOTES.md). Fixed
thresholds keep them in the heap; fewer arenas stop each worker thread growing its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("fovea.runtime")

# mallopt parameters from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def tune_malloc(
    mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20, arena_max: int = 2
) -> bool:
    """Apply the settings through mallopt; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # musl, macOS, Windows: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
            (_M_ARENA_MAX, arena_max),
        )
    )
    log.debug("malloc tuned: %s", ok)
    return ok


def trim() -> bool:
    """Hand free heap memory back to the kernel (glibc's malloc_trim); False elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError, TypeError):
        return False
