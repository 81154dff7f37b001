from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fovea.api.security import Guard, load_key_hashes, sha256_hex
from fovea.errors import ModelConfigError, RateLimited, Unauthorized


def test_key_hashes_from_settings_and_file(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"from-file").hexdigest()
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# ops team\n{digest.upper()}  # rotated 2026-11\n\n")
    assert load_key_hashes(["plain"], keys_file) == (sha256_hex("plain"), digest)


def test_a_bad_keys_file_is_refused(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("not-a-digest\n")
    with pytest.raises(ModelConfigError, match="is not SHA-256"):
        load_key_hashes([], keys_file)


@pytest.mark.parametrize(
    ("presented", "allowed"),
    [("k1", True), ("k2", True), ("k3", False), ("", False), (None, False)],
)
def test_guard_checks_keys(presented: str | None, allowed: bool) -> None:
    guard = Guard((sha256_hex("k1"), sha256_hex("k2")), rate_per_minute=0)
    if allowed:
        guard.check(presented, "1.2.3.4")
    else:
        with pytest.raises(Unauthorized):
            guard.check(presented, "1.2.3.4")


def test_no_keys_means_open() -> None:
    Guard((), 0).check(None, "1.2.3.4")


def test_rate_limit_is_per_key_when_keys_are_set() -> None:
    guard = Guard((sha256_hex("k1"), sha256_hex("k2")), rate_per_minute=1)
    guard.check("k1", "same-address")
    guard.check("k2", "same-address")
    with pytest.raises(RateLimited) as caught:
        guard.check("k1", "same-address")
    assert caught.value.retry_after_s == 60
