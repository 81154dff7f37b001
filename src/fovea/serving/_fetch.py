"""Fetch URL inputs safely: http(s) only, a size cap, a time limit, and no private addresses.

Each hop's host is resolved, every address is checked, and the connection goes to the checked
address (Host header and TLS SNI keep the name), so DNS rebinding cannot slip past the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import httpx

from fovea.errors import URLFetchFailed, URLRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchPolicy:
    timeout_s: float = 10.0
    max_bytes: int = 20 * 1024 * 1024
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, timeout_s: float, max_bytes: int, allowlist: Sequence[str]) -> FetchPolicy:
        hosts, networks = set(), []
        for item in allowlist:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower())
        return cls(timeout_s, max_bytes, frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        if host.lower() in self.allowed_hosts or any(address in n for n in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast


async def fetch(client: httpx.AsyncClient, url: str, policy: FetchPolicy) -> bytes:
    """Download `url` within the policy; raise URLRefused or URLFetchFailed otherwise."""
    try:
        with anyio.fail_after(policy.timeout_s):
            return await _follow(client, httpx.URL(url), policy)
    except TimeoutError as exc:
        raise URLFetchFailed(f"{url}: no answer within {policy.timeout_s} s") from exc
    except httpx.InvalidURL as exc:
        raise URLRefused(f"{url!r} is not a valid URL") from exc
    except httpx.HTTPError as exc:
        raise URLFetchFailed(f"{url}: {type(exc).__name__}: {exc}") from exc


async def _follow(client: httpx.AsyncClient, url: httpx.URL, policy: FetchPolicy) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        address = await _checked_address(url, policy)
        pinned = url.copy_with(host=str(address))
        headers = {"Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                url = url.join(location)
                continue
            if response.status_code != 200:
                raise URLFetchFailed(f"{url} answered HTTP {response.status_code}")
            return await _read_capped(response, policy.max_bytes, url)
        finally:
            await response.aclose()
    raise URLFetchFailed(f"{url}: more than {MAX_REDIRECTS} redirects")


async def _checked_address(url: httpx.URL, policy: FetchPolicy) -> IPAddress:
    if url.scheme not in ("http", "https"):
        raise URLRefused(f"{url}: only http and https URLs are fetched")
    host = url.host
    if not host:
        raise URLRefused(f"{url}: the URL has no host")
    try:
        infos = await anyio.getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise URLFetchFailed(f"{url}: cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    refused = [a for a in addresses if not policy.allows(host, a)]
    if refused or not addresses:
        raise URLRefused(
            f"{url}: {host} resolves to a non-public address ({refused[0] if refused else 'none'});"
            " allow it with FOVEA_URL_ALLOWLIST"
        )
    return addresses[0]


async def _read_capped(response: httpx.Response, max_bytes: int, url: httpx.URL) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise URLFetchFailed(f"{url}: {declared} bytes is more than the limit of {max_bytes}")
    chunks, total = [], 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise URLFetchFailed(f"{url}: more than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
