"""uvicorn, with a graceful SIGTERM: readiness goes false and new requests get 503 at once,
in-flight requests finish (up to the grace period), then uvicorn stops accepting, lets the
refusals still being answered finish, and the process exits 0.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import uvicorn

from fovea.api.middleware import ServingState


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServingState, grace_s: float) -> None:
        super().__init__(config)
        self.state, self.grace_s = state, grace_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self.state.draining:
            super().handle_exit(sig, frame)  # Ctrl-C, or a second SIGTERM: uvicorn's way
            return
        # Not recorded as a captured signal: uvicorn would re-raise it and exit 143, not 0.
        self.state.draining = True
        threading.Thread(target=self._stop_when_drained, daemon=True).start()

    def _stop_when_drained(self) -> None:
        deadline = time.monotonic() + self.grace_s
        # Refusals are not waited for: a steady stream of them would hold the drain open.
        # uvicorn's own shutdown still lets those in progress finish (every task, after the
        # listener closes), each bounded by the middleware's discard limits.
        while self.state.working > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.should_exit = True
