"""The downloader never becomes a proxy into the LAN (SSRF guard).

Every URL a provider hands the downloader (hoster redirects, embed pages, media URLs, 30x hops, HLS
playlists and segments) is fetched through a connection that first resolves the host name, then
checks each address, then connects to the checked address itself (no second look-up a rebinding DNS
could answer differently). Loopback, link-local (169.254.169.254), private, shared, multicast,
reserved and unspecified (0.0.0.0) addresses are refused unless DOWNLOAD_ALLOWED_HOSTS names the
host or its network. Provider base URLs from the settings are the user's own choice and exempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SETTING = "DOWNLOAD_ALLOWED_HOSTS"


class BlockedAddress(OSError):
    """A provider-supplied URL leads to an address AniBridge refuses to connect to."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        article = "an" if kind[0] in "aeiou" else "a"
        self.reason = (f"refused to connect to {host} ({address} is {article} {kind} address): a video host must be on"
                       f" the public internet; add it to {_SETTING} to allow it")
        super().__init__(self.reason)


def address_kind(ip: IPAddress) -> str | None:
    """Why an address is not a public internet address (None when it is one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which non-public destinations are allowed: host names (``*.lan`` for a domain) and networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AddressPolicy:
        """``127.0.0.1, 192.168.1.0/24, media.lan, *.home.arpa``; raises ValueError on a bad entry."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in text.split(","):
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            label = entry.removeprefix("*.")
            if not label or not all(part and len(part) <= 63 and part.replace("-", "").isalnum()
                                    for part in label.split(".")):
                raise ValueError(f"{raw.strip()!r} is neither an IP address, a network (CIDR) nor a host name")
            names.add(entry)
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(n.startswith("*.") and host.endswith(n[1:]) for n in self.names)

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        """The kind of address refused, or None when connecting to ``ip`` for ``host`` is fine."""
        if self.allows_name(host):
            return None
        kind = address_kind(ip)
        if kind is None or any(ip in net for net in self.networks if net.version == ip.version):
            return None
        return kind

    def filter(self, host: str, infos: Iterable[Any]) -> list[Any]:
        """The getaddrinfo results that may be connected to; BlockedAddress when none may."""
        allowed, first_refused = [], None
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            kind = self.refusal(host, ip)
            if kind is None:
                allowed.append(info)
            elif first_refused is None:
                first_refused = BlockedAddress(host, str(ip), kind)
        if not allowed:
            raise first_refused or BlockedAddress(host, "no address", "unresolvable")
        return allowed

    def resolve(self, host: str, port: int) -> list[Any]:
        return self.filter(host, socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))

    async def aresolve(self, host: str, port: int) -> list[Any]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return self.filter(host, infos)


# ------------------------------------------------------------------------------------ bounded bodies

ACCEPT_ENCODING = "gzip, deflate"  # what read_limited can decompress in bounded steps
_STEP = 64 * 1024


class TooLarge(Exception):
    """An answer grew beyond the limit (after decompression)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit // (1024 * 1024) or limit // 1024}"
                         f" {'MiB' if limit >= 1024 * 1024 else 'KiB'}")
        self.limit = limit


class _Inflater:
    """gzip/deflate decompression that never produces more than ``_STEP`` bytes per call, so a
    bomb is stopped at the limit instead of inflating a whole network chunk (1 KiB -> 1 MiB) at once."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.encoding in ("", "identity"):
            yield data
            return
        if self._zlib is None:
            wbits = 16 + zlib.MAX_WBITS if self.encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        while data:
            try:
                out = self._zlib.decompress(data, _STEP)
            except zlib.error:
                if self._first and self.encoding == "deflate":  # raw deflate without the zlib header
                    self._zlib, self._first = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise
            self._first = False
            data = self._zlib.unconsumed_tail
            if self._zlib.eof and self._zlib.unused_data and self.encoding in ("gzip", "x-gzip"):
                data, self._zlib = self._zlib.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
            yield out


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, decompressed step by step, TooLarge beyond ``limit`` bytes."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise httpx.DecodingError(f"answer uses content encoding {encoding!r}, which was not asked for")
    inflater = _Inflater(encoding)
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            for piece in inflater.feed(raw):
                body += piece
                if len(body) > limit:
                    raise TooLarge(limit)
    except zlib.error as exc:
        raise httpx.DecodingError(f"answer is not valid {encoding} ({exc})") from exc
    return bytes(body)


# --------------------------------------------------------------------------------------------- httpx


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend: resolve, check, connect to the checked address (TLS still names the host)."""

    def __init__(self, policy: AddressPolicy, exempt: frozenset[tuple[str, int]]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._policy = policy
        self._exempt = exempt

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        if (host.lower(), port) in self._exempt:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = await self._policy.aresolve(host, port)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc.strerror or exc}") from exc
        error: Exception | None = None
        for info in infos:
            try:
                return await self._inner.connect_tcp(info[4][0], port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "unix socket", "local")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose every connection (each redirect hop included) passes the address check.

    Connections go straight to the host: proxy variables are not used for provider-supplied URLs,
    since a proxy would connect on our behalf to whatever address it resolves.
    """

    def __init__(self, policy: AddressPolicy, exempt_urls: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(trust_env=False, **kwargs)
        limits = kwargs.get("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy, frozenset(_origin(u) for u in exempt_urls)),
        )


def _origin(url: str) -> tuple[str, int]:
    parsed = httpx.URL(url)
    return parsed.host.lower(), parsed.port or (443 if parsed.scheme == "https" else 80)


def guarded_client(policy: AddressPolicy, timeout: float, headers: dict[str, str]) -> httpx.AsyncClient:
    """The client extractors use for embed pages, host APIs and redirects."""
    headers = {"Accept-Encoding": ACCEPT_ENCODING, **headers}
    return httpx.AsyncClient(transport=GuardedTransport(policy), headers=headers, follow_redirects=True,
                             timeout=httpx.Timeout(timeout), trust_env=False)


__all__ = ["ACCEPT_ENCODING", "AddressPolicy", "BlockedAddress", "GuardedTransport", "TooLarge", "address_kind",
           "guarded_client", "read_limited"]
