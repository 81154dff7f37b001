"""What the deploy tests do without their tools, and how they find the machine's Debian mirror."""

from __future__ import annotations

import pytest

from tests.deploy import REQUIRE, missing
from tests.deploy.images import _entries


def test_a_missing_tool_skips_here_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="podman is not installed"):
        missing("podman is not installed")
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="a failure, not a skip"):
        missing("podman is not installed")


def test_apt_sources_are_read_in_both_formats() -> None:
    one_line = "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n"
    assert _entries(one_line, deb822=False) == [
        (["deb"], ["http://mirror.example/debian"], ["bookworm"])
    ]
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://other.example/x\nSuites: trixie\n"
        "Enabled: no\n"
    )
    assert _entries(deb822, deb822=True) == [
        (["deb"], ["http://mirror.example/debian"], ["bookworm", "bookworm-updates"])
    ]
