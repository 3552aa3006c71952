"""What a provider did to us, recorded: challenges met and the host name in use.

A ``Fetcher`` notes challenge pages (Cloudflare, DDoS-Guard, a captcha on a play URL) and switches to
another of the site's host names when one does not resolve or answers a block. Crawl stages and the
download worker turn those notes into journal events (``drain_events``), so health can count the
challenges per site and show which host name is in use, whichever process met them.
"""

from __future__ import annotations

from typing import Any

import apsw

from ..config import Settings
from ..events.registry import Event
from ..events.types import ProviderChallenged, ProviderHostChanged
from .fetch import Fetcher
from .parsers import megakino


def base_url_in_use(settings: Settings, site: str, conn: apsw.Connection | None) -> str:
    """The host name a site answered under last (recorded in the catalogue), else its configured one."""
    candidates = settings.base_urls(site)
    if conn is not None:
        try:
            row = conn.execute("SELECT base_url FROM provider_hosts WHERE site = ?", (site,)).fetchone()
        except apsw.Error:  # no catalogue yet (or one from before hosts were recorded)
            row = None
        if row and row[0] in candidates:
            return str(row[0])
    return candidates[0]


def site_fetcher(settings: Settings, site: str, conn: apsw.Connection | None, **options: Any) -> Fetcher:
    """A fetcher for ``site`` starting at the host name in use, with the others to fall back on, the
    configured challenge back-off (PROVIDER_CHALLENGE_BACKOFF_SECONDS), and for Megakino its token gate
    opened and its live domain (``settings.base_url``)."""
    first = base_url_in_use(settings, site, conn)
    others = [url for url in settings.base_urls(site) if url != first]
    options.setdefault("challenge_backoff_base", settings.provider_challenge_backoff_seconds)
    if site == "megakino":  # its first answer may be the yg=token gate
        options.setdefault("gate", megakino.token_gate_path)
    return Fetcher(first, fallback_base_urls=others, **options)


def drain_events(site: str, stage: str, fetcher: Fetcher) -> list[Event]:
    """Challenges (one event per kind, with a count) and host changes the fetcher noted since last asked."""
    events: list[Event] = []
    by_kind: dict[str, list[Any]] = {}
    for kind, url in fetcher.challenges:
        entry = by_kind.setdefault(kind, [0, url])
        entry[0] += 1
        entry[1] = url
    fetcher.challenges.clear()
    events += [ProviderChallenged(site=site, kind=kind, count=count, url=url, stage=stage)
               for kind, (count, url) in by_kind.items()]
    events += [ProviderHostChanged(site=site, base_url=new, previous=old, reason=reason)
               for old, new, reason in fetcher.host_changes]
    fetcher.host_changes.clear()
    return events
