"""From a STRM identity to the video host's current direct link, cached.

Host links are short-lived, so a ``.strm`` file in proxy mode holds AniBridge's stable URL and the
direct link is looked up when it is played: the provider's episode page, its hosters in
PROVIDER_ORDER, the first host that hands out a link. A player sends many range requests per play,
so the answer is kept for STRM_PROXY_CACHE_TTL_SECONDS (0 = until the host refuses it) and
concurrent requests for the same stream share one lookup. The cache is in memory and bounded.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..downloads.hosts import DirectLink, HostError
from ..downloads.resolve import EpisodeRef, ResolveError, direct_link, find_hosters, resolver_client, resolver_fetcher

if TYPE_CHECKING:
    from ..config import Settings
    from ..projections.queries import CatalogQueries

log = logging.getLogger("anibridge.strm")

MAX_ENTRIES = 4096


class LinkCache:
    """identity -> (direct link, when it was found); thread-safe (the worker fills it too)."""

    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[EpisodeRef, tuple[DirectLink, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, EpisodeRef], asyncio.Future[DirectLink]] = {}  # lookups under way
        self.lookups = 0

    def get(self, identity: EpisodeRef) -> DirectLink | None:
        with self._lock:
            found = self._data.get(identity)
            if found is None:
                return None
            link, at = found
            if self.ttl > 0 and time.monotonic() - at > self.ttl:
                del self._data[identity]
                return None
            self._data.move_to_end(identity)
            return link

    def put(self, identity: EpisodeRef, link: DirectLink) -> None:
        with self._lock:
            self._data[identity] = (link, time.monotonic())
            self._data.move_to_end(identity)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def forget(self, identity: EpisodeRef) -> None:
        with self._lock:
            self._data.pop(identity, None)

    async def resolve(self, identity: EpisodeRef, settings: Settings, catalog: CatalogQueries | None,
                      *, fresh: bool = False) -> DirectLink:
        """The cached link, or one looked up now (shared by concurrent callers on this event loop)."""
        if not fresh and (link := self.get(identity)) is not None:
            return link
        key = (id(asyncio.get_running_loop()), identity)
        pending = self._pending.get(key)
        if pending is None:
            # A task of its own: a player that hangs up during the lookup does not cancel it for the others.
            self.lookups += 1
            pending = asyncio.ensure_future(self._lookup(key, identity, settings, catalog))
            pending.add_done_callback(lambda task: task.cancelled() or task.exception())  # seen even if nobody waits
            self._pending[key] = pending
        return await asyncio.shield(pending)

    async def _lookup(self, key: tuple[int, EpisodeRef], identity: EpisodeRef, settings: Settings,
                      catalog: CatalogQueries | None) -> DirectLink:
        try:
            link = await lookup(identity, settings, catalog)
            self.put(identity, link)
            return link
        finally:
            self._pending.pop(key, None)


async def lookup(identity: EpisodeRef, settings: Settings, catalog: CatalogQueries | None) -> DirectLink:
    """Episode page -> hosters in PROVIDER_ORDER (the preferred one first) -> the first direct link.

    Raises ResolveError naming every host that failed."""
    timeout = settings.provider_direct_link_timeout_seconds
    started = time.monotonic()
    try:
        conn = catalog.conn() if catalog is not None else None
    except Exception:  # no catalogue yet: the configured base URL
        conn = None
    fetcher = resolver_fetcher(settings, identity.site, conn, concurrency=2,
                               max_retries=settings.provider_redirect_retries,
                               read_timeout=max(settings.provider_redirect_timeout_seconds, 5.0))
    async with fetcher, resolver_client(settings, timeout) as client:
        links = await find_hosters(fetcher, identity, catalog, settings.hosts)
        failures = []
        for hoster in links:
            try:
                link = await direct_link(fetcher, client, hoster, timeout, identity.site,
                                         redirect_timeout=settings.provider_redirect_timeout_seconds)
            except HostError as exc:
                failures.append(f"{hoster.host}: {exc.reason}")
                continue
            log.info("STRM %s: %s gave a %s link in %.2f s", identity.describe(), hoster.host, link.kind,
                     time.monotonic() - started)
            return link
    raise ResolveError(f"all {len(links)} hoster(s) failed for {identity.language}: " + "; ".join(failures))
