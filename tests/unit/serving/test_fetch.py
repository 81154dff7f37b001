from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import anyio
import httpx
import pytest

from fovea.errors import URLFetchFailed, URLRefused
from fovea.serving import FetchPolicy, fetch
from tests import local_http

ALLOW_LOCAL = FetchPolicy.build(5.0, 1_000_000, ["127.0.0.1"])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with local_http.serve() as url:
        yield url


async def _fetch(url: str, policy: FetchPolicy = ALLOW_LOCAL) -> bytes:
    async with httpx.AsyncClient() as client:
        return await fetch(client, url, policy)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("2606:4700::1111", True),
    ],
)
def test_default_policy_allows_only_public_addresses(address: str, allowed: bool) -> None:
    assert FetchPolicy().allows("host", ipaddress.ip_address(address)) is allowed


def test_allowlist_takes_hosts_and_networks() -> None:
    policy = FetchPolicy.build(1, 1, ["10.0.0.0/8", "Camera.Local"])
    assert policy.allows("x", ipaddress.ip_address("10.9.9.9"))
    assert policy.allows("camera.local", ipaddress.ip_address("192.168.1.2"))
    assert not policy.allows("x", ipaddress.ip_address("192.168.1.2"))


def test_loopback_is_refused_unless_allow_listed(base_url: str) -> None:
    with pytest.raises(URLRefused, match="non-public address"):
        anyio.run(_fetch, f"{base_url}/image.jpg", FetchPolicy())
    assert anyio.run(_fetch, f"{base_url}/image.jpg") == local_http.IMAGE


def test_redirects_are_followed_and_each_hop_is_checked(base_url: str) -> None:
    assert anyio.run(_fetch, f"{base_url}/to-image") == local_http.IMAGE
    with pytest.raises(URLRefused, match=r"127\.0\.0\.2"):
        anyio.run(_fetch, f"{base_url}/to-other-loopback")
    with pytest.raises(URLFetchFailed, match="more than 5 redirects"):
        anyio.run(_fetch, f"{base_url}/loop")


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/big", URLFetchFailed, "more than the limit"),
        ("/missing", URLFetchFailed, "HTTP 404"),
        ("/slow", URLFetchFailed, r"no answer within 0\.5 s"),
    ],
)
def test_fetch_failures(base_url: str, path: str, error: type[Exception], message: str) -> None:
    policy = FetchPolicy.build(0.5, 1_000_000, ["127.0.0.1"])
    with pytest.raises(error, match=message):
        anyio.run(_fetch, base_url + path, policy)


@pytest.mark.parametrize("url", ["ftp://example.org/a.jpg", "file:///etc/passwd", "http://"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(URLRefused):
        anyio.run(_fetch, url)
