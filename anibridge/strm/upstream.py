"""Which media URLs the STRM proxy may fetch, and fetching them (redirects checked hop by hop).

STRM_PROXY_UPSTREAM_ALLOWLIST set: only those hosts (and their subdomains), nothing else.
Unset: any host whose every address is public; loopback, private, link-local, multicast and
reserved addresses are refused, so a signed URL (or, with STRM_PROXY_AUTH=none, anyone) cannot make
AniBridge reach into the network it runs in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from ..netguard import AddressPolicy, BlockedAddress

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UpstreamRefused(Exception):
    """The URL's host may not be fetched (HTTP 403); the message says why."""


class UpstreamFailed(Exception):
    """The upstream could not be reached or redirected too often (HTTP 502)."""


def allowed_by_list(host: str, allowlist: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == entry or host.endswith("." + entry) for entry in allowlist)


def connection_policy(base: AddressPolicy, allowlist: Sequence[str]) -> AddressPolicy:
    """The address check every proxy connection passes (after ``check_upstream``, at connect time, so a
    name that resolves differently the second time cannot reach the LAN): the downloader's policy, plus
    the allow-listed hosts and their subdomains, which may be local."""
    names = {entry for host in allowlist for entry in (host, "*." + host)}
    return AddressPolicy(base.names | names, base.networks)


async def check_upstream(url: str, allowlist: Sequence[str]) -> None:
    """Raise UpstreamRefused unless the proxy may fetch ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamRefused(f"not an http(s) URL: {url[:80]!r}")
    host = parts.hostname
    if allowlist:
        if not allowed_by_list(host, allowlist):
            raise UpstreamRefused(f"{host} is not on STRM_PROXY_UPSTREAM_ALLOWLIST")
        return
    for address in await _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not address.is_global or address.is_multicast:
            raise UpstreamRefused(f"{host} is a local or private address ({address}); list it in"
                                  " STRM_PROXY_UPSTREAM_ALLOWLIST if it really serves media")


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UpstreamFailed(f"cannot resolve {host}: {exc}") from None
    found = []
    for *_, sockaddr in infos:
        try:
            found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError:
            continue
    if not found:
        raise UpstreamFailed(f"{host} has no address")
    return found


async def open_upstream(client: httpx.AsyncClient, method: str, url: str, headers: Mapping[str, str],
                        allowlist: Sequence[str]) -> tuple[httpx.Response, str]:
    """Send ``method url`` (streamed), following redirects only to allowed hosts; returns the open
    response (the caller closes it) and the final URL."""
    for _ in range(MAX_REDIRECTS + 1):
        await check_upstream(url, allowlist)
        request = client.build_request(method, url, headers=dict(headers))
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except BlockedAddress as exc:
            raise UpstreamRefused(str(exc)) from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"{urlsplit(url).netloc}: {type(exc).__name__}") from exc
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return response, url
        await response.aclose()
        url = urljoin(url, location)
    raise UpstreamFailed(f"more than {MAX_REDIRECTS} redirects")
