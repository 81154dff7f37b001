"""API keys and rate limits, as one route dependency: Bearer or X-API-Key, 401 without."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fovea.api.ratelimit import RateLimiter
from fovea.errors import ModelConfigError, RateLimited, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_key_hashes(keys: Iterable[str], keys_file: Path | None) -> tuple[str, ...]:
    """SHA-256 hex digests of the keys; the file holds one digest a line (# comments)."""
    hashes = [sha256_hex(k) for k in keys]
    if keys_file is not None:
        try:
            lines = keys_file.read_text().splitlines()
        except OSError as exc:
            raise ModelConfigError(f"api keys file {keys_file}: {exc}") from exc
        for line in (line.split("#")[0].strip().lower() for line in lines):
            if line and (len(line) != 64 or any(c not in "0123456789abcdef" for c in line)):
                raise ModelConfigError(f"api keys file {keys_file}: {line[:12]}... is not SHA-256")
            if line:
                hashes.append(line)
    return tuple(hashes)


class Guard:
    """Checks keys in constant time (every stored hash is compared) and applies rate limits."""

    def __init__(self, key_hashes: tuple[str, ...], rate_per_minute: int) -> None:
        self.key_hashes = key_hashes
        self.limiter = RateLimiter(rate_per_minute) if rate_per_minute > 0 else None

    def check(self, presented: str | None, client: str) -> None:
        identity = client
        if self.key_hashes:
            if not presented:
                raise Unauthorized("this server needs an API key: Authorization: Bearer <key>")
            digest = sha256_hex(presented)
            matched = False
            for known in self.key_hashes:  # no early exit: the time taken says nothing
                matched |= hmac.compare_digest(digest, known)
            if not matched:
                raise Unauthorized("the API key is not valid")
            identity = "key:" + digest
        if self.limiter is not None and (wait := self.limiter.acquire(identity)) > 0:
            error = RateLimited(f"rate limit reached; retry in {math.ceil(wait)} s")
            error.retry_after_s = max(1, math.ceil(wait))
            raise error


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key of a WebSocket handshake: as over HTTP (Bearer or X-API-Key), or in the
    `api_key` query parameter, since browsers cannot set headers on a WebSocket."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key") or query.get("api_key") or None


async def _guard(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> None:
    guard: Guard = request.app.state.guard
    presented = bearer.credentials if bearer is not None else header
    client = request.client.host if request.client else "unknown"
    guard.check(presented, client)


Protected = Depends(_guard)
__all__ = ["Guard", "Protected", "load_key_hashes", "presented_key", "sha256_hex"]
