"""Titles a search had to leave out because a magnet cannot carry them (a provider slug such as
``EVIL-Upper`` or ``zz..dots``): one bad title must never fail an answer; it is skipped, logged once
and counted here for ``/health``."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("anibridge.torznab")

# Distinct titles remembered; more only raise the count of the last one seen, memory stays bounded.
_MAX_REMEMBERED = 1000

_lock = threading.Lock()
_skipped: dict[tuple[str, str], str] = {}


def note_skipped(site: str, slug: str, reason: str) -> None:
    """Remember (and log once) a title that cannot become a release."""
    key = (site, slug)
    with _lock:
        if key in _skipped or len(_skipped) >= _MAX_REMEMBERED:
            return
        _skipped[key] = reason
    log.warning("Torznab: left %s title %r out of search answers: %s", site, slug, reason)


def skipped_titles() -> dict[str, object]:
    """How many titles were left out, and a few of them with the reason (for health)."""
    with _lock:
        examples = [{"site": site, "slug": slug, "reason": reason}
                    for (site, slug), reason in list(_skipped.items())[:10]]
        return {"count": len(_skipped), "examples": examples}
