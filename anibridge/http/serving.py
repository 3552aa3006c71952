"""How uvicorn serves AniBridge: one configuration for ``serve``, ``demo`` and the test harness, with a
guard against slow and piled-up connections.

uvicorn bounds the idle time between requests (keep-alive) but not the time a client may take to send
a request's headers, nor the connections one client may hold open: a client dribbling a header byte
every few seconds (slowloris) keeps its connection, and a few hundred of them hold the server's file
descriptors and memory. The guarded protocol closes a connection whose request headers are not
complete within ``ANIBRIDGE_HEADER_TIMEOUT_SECONDS`` of its first byte (or of the connection, when
nothing is sent), and answers 503 to a client address that already has
``ANIBRIDGE_MAX_CONNECTIONS_PER_CLIENT`` connections open. A request's body and its answer are not
timed here: a slow upload is bounded by the body cap and the per-client limit.

A reverse proxy in ``ANIBRIDGE_TRUSTED_PROXIES`` is not counted against that limit: its connections
carry many clients' requests, the limit is decided per TCP connection before any header (so before
X-Forwarded-For) is read, and capping the proxy would refuse everyone once its pool is 64 deep.
Per-client connection limits then belong in the proxy (nginx ``limit_conn``, Traefik ``inFlightReq``),
which also buffers a slow client's headers. The header deadline still applies to the proxy's connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Settings
from .forwarded import TrustedProxies

log = logging.getLogger("anibridge.http")

# At most one warning per client address in this many seconds (an attack would otherwise flood the log).
WARN_EVERY_S = 60.0


class _Warnings:
    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}

    def due(self, address: str) -> int | None:
        """None while this address was warned about recently; else how many warnings were held back."""
        now = time.monotonic()
        if now - self.last.get(address, -WARN_EVERY_S) < WARN_EVERY_S:
            self.suppressed[address] = self.suppressed.get(address, 0) + 1
            return None
        if len(self.last) > 1000:
            self.last.clear()
            self.suppressed.clear()
        self.last[address] = now
        return self.suppressed.pop(address, 0)


def guarded_protocol(header_timeout: float, max_per_client: int,
                     trusted: TrustedProxies | None = None) -> type[asyncio.Protocol]:
    """An httptools protocol class (uvicorn's ``http=``) with the header deadline and per-client limit
    (``trusted`` reverse proxies are not limited)."""
    trusted = trusted or TrustedProxies([])
    open_by_client: dict[str, int] = {}  # the event loop's thread only: no lock
    warnings = _Warnings()

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _address: str | None = None
        _proxy = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else "?"
            if address in trusted:
                self._proxy = True
                self._arm()
                return
            self._address = address
            count = open_by_client.get(address, 0) + 1
            open_by_client[address] = count
            if count > max_per_client:
                held_back = warnings.due(address)
                if held_back is not None:
                    log.warning("refusing connections from %s: it already has %d open"
                                " (ANIBRIDGE_MAX_CONNECTIONS_PER_CLIENT)%s", address, max_per_client,
                                f"; {held_back} more refused since the last warning" if held_back else "")
                body = b"Too many connections from your address (ANIBRIDGE_MAX_CONNECTIONS_PER_CLIENT)."
                transport.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
                                + body)
                transport.close()
                return
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._address is not None:
                left = open_by_client.get(self._address, 1) - 1
                if left > 0:
                    open_by_client[self._address] = left
                else:
                    open_by_client.pop(self._address, None)
                self._address = None
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            address = self.client[0] if self.client else "?"
            held_back = warnings.due(address)
            if held_back is not None:
                log.warning("closed a connection from %s%s: no complete request headers within %.0f s"
                            " (ANIBRIDGE_HEADER_TIMEOUT_SECONDS)%s", address,
                            " (a trusted reverse proxy)" if self._proxy else "", header_timeout,
                            f"; {held_back} more closed since the last warning" if held_back else "")
            self.transport.close()

    return GuardedHttpToolsProtocol


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for AniBridge: the guarded protocol, no access log, and AniBridge's own
    logging set-up for uvicorn's messages too (``log_config=None``: one format, control characters escaped)."""
    values: dict[str, Any] = {"log_level": settings.log_level.lower(), "access_log": False, "log_config": None,
                              "timeout_keep_alive": 5,
                              # forwarded headers count only from ANIBRIDGE_TRUSTED_PROXIES (http.forwarded),
                              # not from uvicorn's default 127.0.0.1 or its FORWARDED_ALLOW_IPS
                              "proxy_headers": False}
    values.update(options)
    protocol = guarded_protocol(settings.anibridge_header_timeout_seconds,
                                settings.anibridge_max_connections_per_client,
                                TrustedProxies(settings.trusted_proxies))
    return uvicorn.Config(app, host=host, port=port, http=protocol, **values)
