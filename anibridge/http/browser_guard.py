"""Host header validation and cross-site request protection, as qBittorrent's WebUI does them.

A web page in the user's browser can reach AniBridge on the LAN: a cross-site form POST (CSRF) can
add or delete downloads, and a page whose own name is rebound to AniBridge's address (DNS rebinding)
is answered as if it were AniBridge's own. qBittorrent (``WebApplication::processRequest``) refuses both
with ``401 Unauthorized``; so does this ASGI middleware, ahead of every route:

- **Host validation**: the ``Host`` header must be an address, a name of this machine or of the LAN
  (``localhost``, a single-label name such as a Docker service ``anibridge``, ``*.local``, ``*.lan``,
  ``*.home.arpa``, ``*.internal``), or match ``ANIBRIDGE_DOMAIN_LIST``. A rebinding page's Host is a
  public name, which none of these are.
- **CSRF**: for requests that change state (any method but GET/HEAD/OPTIONS), an ``Origin`` - else
  ``Referer`` - naming another host than the request's ``Host`` (or the ``X-Forwarded-Host`` of a
  proxy in ``ANIBRIDGE_TRUSTED_PROXIES``; from anyone else it is ignored: a page that CORS lets send
  headers could set it to its own name) is refused; with neither, a browser's ``Sec-Fetch-Site`` must
  say same-origin. Sonarr, Radarr and Prowlarr send none of these headers and pass, as with qBittorrent.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from .forwarded import behind_trusted_proxy

log = logging.getLogger("anibridge.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAN_SUFFIXES = (".localhost", ".local", ".lan", ".home.arpa", ".internal")
_CACHE_MAX = 512


def split_host(value: str) -> tuple[str, int | None]:
    """``name[:port]`` or ``[v6][:port]`` -> (lower-case name without brackets or final dot, port)."""
    value = value.strip()
    port: int | None = None
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    else:
        name, sep, tail = value.rpartition(":")
        if not sep or ":" in name:  # no port, or a bare IPv6 address
            name = value
        elif tail.isdigit():
            port = int(tail)
        else:
            name = value
    return name.lower().rstrip("."), port


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


class HostNames:
    """Which Host header names this server answers (decisions cached per name)."""

    def __init__(self, extra: list[str]) -> None:
        self.patterns = [p.lower() for p in extra]
        own = socket.gethostname().lower().rstrip(".")
        self.own = {own, own.split(".", 1)[0]} - {""}
        self._cache: dict[str, bool] = {}
        self._raw_cache: dict[bytes, bool] = {}

    def allowed_raw(self, header: bytes) -> bool:
        """The verdict on a raw Host header value (cached as it is)."""
        ok = self._raw_cache.get(header)
        if ok is None:
            ok = self.allowed(split_host(header.decode("latin-1"))[0])
            if len(self._raw_cache) >= _CACHE_MAX:
                self._raw_cache.clear()
            self._raw_cache[header] = ok
        return ok

    def allowed(self, name: str) -> bool:
        ok = self._cache.get(name)
        if ok is None:
            ok = self._decide(name)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[name] = ok
        return ok

    def _decide(self, name: str) -> bool:
        if not name or name == "localhost" or "." not in name or name in self.own or _is_address(name):
            return True
        if name.endswith(LAN_SUFFIXES):
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)


def _same_origin(url: str, targets: list[str]) -> bool:
    """qBittorrent's comparison (host and port, not scheme), a missing port read as the URL scheme's default."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return False
    if not host:
        return False
    default = 443 if parts.scheme == "https" else 80
    for target in targets:
        t_host, t_port = split_host(target)
        if t_host == host and (t_port or default) == (port or default):
            return True
    return False


class BrowserGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.csrf = settings.anibridge_csrf_protection
        self.hosts = HostNames(settings.domain_list) if settings.anibridge_host_header_validation else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope)
            if problem is not None:
                await _unauthorized(problem, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        if scope["method"] in SAFE_METHODS or not self.csrf:
            # the hot path (Torznab GETs): only the Host header matters, its verdict cached by raw value
            if self.hosts is None:
                return None
            raw = b""
            for name, value in scope["headers"]:
                if name == b"host":
                    raw = value
                    break
            if not raw or self.hosts.allowed_raw(raw):
                return None
        host = origin = referer = fetch_site = forwarded_host = ""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"referer":
                referer = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1").strip().lower()
            elif name == b"x-forwarded-host" and behind_trusted_proxy(scope):
                forwarded_host = value.decode("latin-1").split(",", 1)[0].strip()
        client = (scope.get("client") or ("?",))[0]
        if self.hosts is not None and host and not self.hosts.allowed(split_host(host)[0]):
            log.warning("refused a request from %s for Host %r: not a name of this server (DNS rebinding?);"
                        " if it is yours, add it to ANIBRIDGE_DOMAIN_LIST", client, host)
            return (f"Unauthorized: Host {host!r} is not a name of this server. If it is yours, add it to"
                    " ANIBRIDGE_DOMAIN_LIST (or set ANIBRIDGE_HOST_HEADER_VALIDATION=false).")
        if not self.csrf or scope["method"] in SAFE_METHODS:
            return None
        targets = [t for t in (host, forwarded_host) if t]
        if origin or referer:
            header, value = ("Origin", origin) if origin else ("Referer", referer)
            if _same_origin(value, targets):
                return None
            log.warning("refused a cross-site %s %s from %s: %s %r is not this server (%s)", scope["method"],
                        scope["path"], client, header, value, " or ".join(targets) or "no Host")
            return (f"Unauthorized: cross-site request ({header} {value!r} is not this server). Behind a reverse"
                    " proxy that rewrites Host, pass X-Forwarded-Host and list the proxy in"
                    " ANIBRIDGE_TRUSTED_PROXIES, or set ANIBRIDGE_CSRF_PROTECTION=false.")
        if fetch_site and fetch_site not in ("same-origin", "none"):
            log.warning("refused a cross-site %s %s from %s (Sec-Fetch-Site: %s)", scope["method"], scope["path"],
                        client, fetch_site)
            return "Unauthorized: cross-site request (Sec-Fetch-Site: " + fetch_site + ")"
        return None


async def _unauthorized(message: str, send: Send) -> None:
    body = message.encode("utf-8", "replace")
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"x-content-type-options", b"nosniff"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
