"""The command line that `fovea ui` runs: Streamlit on app.py, without importing Streamlit."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(port: int = 8501, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # Served code does not change under a running UI; polling files would cost CPU.
        "--server.fileWatcherType",
        "none",
    ]
