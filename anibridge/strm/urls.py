"""Who a STRM stream is (site, slug, season, episode, language, preferred host) and its URLs.

Query parameter names are AniBridge 2.5's (``site``, ``slug``, ``s``, ``e``, ``lang``, ``provider``;
``u`` for a proxied upstream), so URLs in existing ``.strm`` files still parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from ..config import HOSTS, SITES
from ..downloads.resolve import EpisodeRef
from ..releases import MagnetError, check_magnet_fields, language_tag
from .auth import Signer

_HOSTS = {h.lower(): h for h in HOSTS}
MAX_UPSTREAM_URL = 4096


class IdentityError(ValueError):
    """The query does not name a stream AniBridge can play (HTTP 400)."""


def _params(identity: EpisodeRef) -> dict[str, str]:
    out = {"site": identity.site, "slug": identity.slug, "s": str(identity.season), "e": str(identity.episode),
           "lang": identity.language}
    if identity.provider:
        out["provider"] = identity.provider
    return out


def parse_identity(params: Mapping[str, str]) -> EpisodeRef:
    """The stream a ``/strm/stream`` query names; raises IdentityError saying what is wrong."""
    site = (params.get("site") or "aniworld.to").strip()
    if site not in SITES:
        raise IdentityError(f"unknown site {site[:40]!r} (known: {', '.join(SITES)})")
    slug = (params.get("slug") or "").strip()
    language = (params.get("lang") or params.get("language") or "").strip()
    raw_s = (params.get("s") or params.get("season") or "").strip()
    raw_e = (params.get("e") or params.get("episode") or "").strip()
    if not slug or not language or not raw_s or not raw_e:
        raise IdentityError("slug, s, e and lang are required")
    if not (raw_s.isdigit() and raw_e.isdigit() and len(raw_s) <= 5 and len(raw_e) <= 5):
        raise IdentityError("s and e must be whole numbers")
    try:
        check_magnet_fields(slug, int(raw_s), int(raw_e))
        language_tag(language)
    except MagnetError as exc:
        raise IdentityError(str(exc)) from None
    provider = (params.get("provider") or "").strip()
    host = _HOSTS.get(provider.lower()) if provider else None
    if provider and host is None:
        raise IdentityError(f"unknown provider {provider[:40]!r}")
    return EpisodeRef(site, slug, int(raw_s), int(raw_e), language, host)


def stream_url(base: str, signer: Signer, identity: EpisodeRef) -> str:
    """The stable URL a ``.strm`` file holds (signed without expiry: the file must keep playing)."""
    return f"{base}/strm/stream?{urlencode(sorted(signer.sign(_params(identity), expires=False).items()))}"


def proxy_url(base: str, signer: Signer, upstream: str, extra_seconds: float = 0.0) -> str:
    """``/strm/proxy/<file name>?u=<upstream>`` with an expiring signature; the name only helps players
    that look at extensions (``.ts``, ``.m3u8``, ``.key``)."""
    name = urlsplit(upstream).path.rsplit("/", 1)[-1]
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "._-")[:80]
    if "." not in safe:
        safe = "resource.bin"
    params = signer.sign({"u": upstream}, extra_seconds=extra_seconds)
    return f"{base}/strm/proxy/{safe}?{urlencode(sorted(params.items()))}"
