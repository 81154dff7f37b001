"""How to reach a remote KServe V2 backend: model.toml's `[backend]`, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RemoteOptions:
    url: str
    model: str
    version: str = ""
    protocol: Literal["http", "grpc"] = "http"
    timeout_s: float = 10.0
    retries: int = 2
    max_connections: int = 16
    breaker_failures: int = 3
    breaker_reset_s: float = 10.0
