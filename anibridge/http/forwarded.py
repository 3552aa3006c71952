"""AniBridge behind a reverse proxy: from a trusted proxy, the client is the one X-Forwarded-For names.

Behind nginx, Traefik or Caddy every connection comes from the proxy. From a proxy listed in
``ANIBRIDGE_TRUSTED_PROXIES`` the request's client address becomes the rightmost X-Forwarded-For entry
that is not itself a trusted proxy - the address the outermost trusted proxy saw - and every
address-based decision (the login ban table) and log line uses it. uvicorn's ``ProxyHeadersMiddleware``
does that parsing (several headers, ``host:port``, ``[v6]:port``) and also takes X-Forwarded-Proto.

qBittorrent (``WebApplication::resolveClientAddress``) trusts the same list but takes the *first global*
address in X-Forwarded-For, an entry the client writes itself; a banned client would only have to send
another one. From any other peer forwarded headers are ignored, so they cannot dodge a ban.

uvicorn's own proxy support is switched off (``http.serving``): by default it trusts X-Forwarded-For
from 127.0.0.1 and whatever ``FORWARDED_ALLOW_IPS`` says, which would let any local process pick its
address. Here it runs inside this middleware, which also records the proxy's own address in the scope
(``behind_trusted_proxy``), so that other checks know forwarded headers such as X-Forwarded-Host came
from a trusted proxy.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

PROXY_KEY = "anibridge.trusted_proxy"


class TrustedProxies:
    """Is an address one of ``ANIBRIDGE_TRUSTED_PROXIES`` (networks, as ``Settings.trusted_proxies``)?"""

    def __init__(self, networks: list[str]) -> None:
        parsed = [ipaddress.ip_network(n) for n in networks]
        # A dual-stack listener sees an IPv4 proxy as ::ffff:a.b.c.d: trust that spelling too.
        mapped = [ipaddress.ip_network(f"::ffff:{n.network_address}/{96 + n.prefixlen}")
                  for n in parsed if n.version == 4]
        self.networks = [*parsed, *mapped]
        self._contains = functools.lru_cache(maxsize=1024)(self._check)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, host: object) -> bool:
        return bool(self.networks) and isinstance(host, str) and len(host) <= 64 and self._contains(host)

    def _check(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def behind_trusted_proxy(scope: Scope) -> bool:
    """Did this request come from a trusted reverse proxy (so its forwarded headers count)?"""
    return PROXY_KEY in scope


class ForwardedClient:
    """ASGI middleware (outermost): from a trusted proxy, ``scope["client"]`` becomes the forwarded client."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted
        self.rewrite = ProxyHeadersMiddleware(app, trusted_hosts=[str(n) for n in trusted.networks])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer and peer[0] in self.trusted:
                scope[PROXY_KEY] = peer[0]
                await self.rewrite(scope, receive, send)
                return
        await self.app(scope, receive, send)


def untrusted_proxy_hint(scope: Scope) -> str:
    """For a log line about an address: a hint when a peer that is not trusted sent X-Forwarded-For
    (most likely a reverse proxy nobody listed, whose clients all share its address), else ''."""
    if behind_trusted_proxy(scope) or not any(name == b"x-forwarded-for" for name, _ in scope["headers"]):
        return ""
    return ("; it sent X-Forwarded-For, which counts only from ANIBRIDGE_TRUSTED_PROXIES: if it is your"
            " reverse proxy, list it there, else every client behind it shares this ban")
