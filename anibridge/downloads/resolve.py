"""From a task (site, slug, season, episode, language) to an ordered list of hoster links, and from one
hoster link to a direct media link.

Only base URLs from the settings are ever fetched here: the magnet names a site and numbers, never a
URL. Hoster links come from the provider's own episode page.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ..crawlers.fetch import DEFAULT_USER_AGENT, ChallengeError, Fetcher, FetchError, NotFound
from ..crawlers.parsers import HosterLink, ParseError, aniworld, megakino, sto
from ..crawlers.site_state import site_fetcher
from ..netguard import GuardedTransport, guarded_client
from .hosts import DirectLink, HostError, resolve_direct_link

if TYPE_CHECKING:
    import apsw

    from ..config import Settings
    from ..projections.queries import CatalogQueries

log = logging.getLogger("anibridge.resolve")


def resolver_fetcher(settings: Settings, site: str, conn: apsw.Connection | None, **options: Any) -> Fetcher:
    """The site's fetcher for resolving an episode (downloads and STRM links): the configured base URLs
    are the user's choice and exempt; every other URL the provider hands out (redirects off the site,
    absolute hoster links) passes the address check of DOWNLOAD_ALLOWED_HOSTS; answers are capped."""
    transport = GuardedTransport(settings.address_policy, exempt_urls=settings.base_urls(site))
    options.setdefault("max_bytes", int(settings.provider_max_page_mb * 1024 * 1024))
    options.setdefault("deadline", settings.provider_fetch_deadline_seconds)
    return site_fetcher(settings, site, conn, transport=transport, **options)


def resolver_client(settings: Settings, timeout: float) -> httpx.AsyncClient:
    """The client extractors use for embed pages, host APIs and their redirects: every hop checked."""
    return guarded_client(settings.address_policy, timeout, {"User-Agent": DEFAULT_USER_AGENT})


class PlayChallenge(HostError):
    """The provider's play URL answered a challenge page (captcha, "Stream wird vorbereitet") for this
    hoster instead of redirecting to it; the next hoster is tried."""


class ResolveError(Exception):
    """The episode cannot be downloaded at all (page missing, language not offered...). ``of_release``: the
    release itself is the problem (the site has no such episode or language), not a passing fault of the
    site or of AniBridge."""

    def __init__(self, reason: str, *, of_release: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.of_release = of_release


@dataclass(frozen=True, slots=True)
class EpisodeRef:
    """One episode in one language on one site (a magnet's fields; the identity a STRM URL carries)."""

    site: str
    slug: str
    season: int
    episode: int
    language: str
    provider: str | None = None

    def describe(self) -> str:
        return f"{self.slug} S{self.season:02d}E{self.episode:02d} {self.language} on {self.site}"


def episode_paths(ref: EpisodeRef, catalog: CatalogQueries | None) -> list[str]:
    """Site-relative page paths to try, best first: the catalogue's path, then the site's pattern."""
    paths: list[str] = []
    if catalog is not None:
        paths += _catalog_paths(ref, catalog)
    if ref.site == "aniworld.to":
        if ref.season == 0:
            paths.append(f"/anime/stream/{ref.slug}/filme/film-{ref.episode}")
        else:
            paths.append(f"/anime/stream/{ref.slug}/staffel-{ref.season}/episode-{ref.episode}")
    elif ref.site == "s.to":
        paths.append(f"/serie/{ref.slug}/staffel-{ref.season}/episode-{ref.episode}")
    elif ref.site == "megakino":
        paths += [f"/films/{ref.slug}.html", f"/serials/{ref.slug}.html"]
    else:
        raise ResolveError(f"unknown site {ref.site!r}", of_release=True)
    return [p for p in dict.fromkeys(paths) if p.startswith("/") and not p.startswith("//")]


def _catalog_paths(ref: EpisodeRef, catalog: CatalogQueries) -> list[str]:
    try:
        conn = catalog.conn()
        found: list[str] = []
        row = conn.execute("SELECT path FROM episodes WHERE site = ? AND slug = ? AND season = ? AND episode = ?",
                           (ref.site, ref.slug, ref.season, ref.episode)).fetchone()
        if row and row[0]:
            found.append(row[0])
        if ref.site == "megakino":
            row = conn.execute("SELECT path FROM titles WHERE site = ? AND slug = ?", (ref.site, ref.slug)).fetchone()
            if row and row[0]:
                found.append(row[0])
        return found
    except Exception as exc:  # the catalogue may not exist yet; the site's URL pattern still works
        log.debug("catalogue lookup for %s/%s failed: %s", ref.site, ref.slug, exc)
        return []


def parse_hosters(site: str, html: str, season: int = 1, episode: int = 1, slug: str = "") -> list[HosterLink]:
    if site == "aniworld.to":
        return aniworld.parse_episode_hosters(html)
    if site == "s.to":
        return sto.parse_episode_hosters(html)
    serial = megakino.parse_serial_episodes(html, slug)
    if serial:  # a serial page holds every episode's players: take this episode's block
        return next((e.embeds for e in serial if (e.season, e.episode) == (season, episode)), [])
    return megakino.parse_film(html).embeds


def order_links(links: list[HosterLink], language: str, preferred: str | None, order: list[str]) -> list[HosterLink]:
    """Links in ``language``: the preferred host first, then PROVIDER_ORDER, then any other host."""
    rank = {host.lower(): i for i, host in enumerate(order)}
    wanted = [link for link in links if link.language == language]

    def key(item: tuple[int, HosterLink]) -> tuple[int, int, int]:
        index, link = item
        host = link.host.lower()
        first = 0 if preferred and host == preferred.lower() else 1
        return first, rank.get(host, len(rank)), index

    return [link for _, link in sorted(enumerate(wanted), key=key)]


async def find_hosters(fetcher: Fetcher, ref: EpisodeRef, catalog: CatalogQueries | None,
                       order: list[str]) -> list[HosterLink]:
    """Fetch the episode page and list its hoster links for the wanted language, in try order."""
    what = f"{ref.slug} S{ref.season:02d}E{ref.episode:02d}"
    problems: list[str] = []
    gone = True  # every page answered "not found": the site has no such episode
    links: list[HosterLink] | None = None
    for path in episode_paths(ref, catalog):
        try:
            page = await fetcher.get(path)
            links = parse_hosters(ref.site, page.text, ref.season, ref.episode, ref.slug)
            break
        except FetchError as exc:
            problems.append(f"{exc.url}: {exc.reason}")
            gone = gone and isinstance(exc, NotFound)
        except ParseError as exc:
            problems.append(f"{fetcher.url_for(path)}: {exc}")
            gone = False
    if links is None:
        raise ResolveError(f"could not read the episode page of {what} on {ref.site}: " + "; ".join(problems),
                           of_release=gone and bool(problems))
    ordered = order_links(links, ref.language, ref.provider, order)
    if not ordered:
        offered = sorted({link.language for link in links}, key=_language_rank)
        raise ResolveError(f"episode has no {ref.language} stream (offered: {', '.join(offered) or 'none'})",
                           of_release=True)
    return ordered


def _language_rank(language: str) -> tuple[int, str]:
    known = ["German Dub", "German Sub", "English Sub", "English Dub"]
    return (known.index(language) if language in known else len(known), language)


async def direct_link(fetcher: Fetcher, client: httpx.AsyncClient, link: HosterLink, timeout: float,
                      site: str, redirect_timeout: float | None = None) -> DirectLink:
    """Follow the provider's redirect to the host's embed page (within ``redirect_timeout``,
    PROVIDER_REDIRECT_TIMEOUT_SECONDS) and extract the media URL (within ``timeout``)."""
    limit = redirect_timeout or timeout
    try:
        async with asyncio.timeout(limit):
            embed = await embed_url(fetcher, link, site)
    except TimeoutError:
        raise HostError(link.host, f"redirect did not answer within {limit:g} s") from None
    except ChallengeError as exc:
        raise PlayChallenge(link.host, f"challenge: {site}'s play URL {exc.reason}") from None
    except FetchError as exc:
        raise HostError(link.host, f"redirect failed ({exc.reason})") from None
    return await resolve_direct_link(client, embed, link.host, timeout)


async def embed_url(fetcher: Fetcher, link: HosterLink, site: str) -> str:
    """The embed page URL. Megakino embeds players directly; AniWorld and s.to link a redirect
    (``/redirect/<id>`` or a play URL) that is followed once."""
    target = link.redirect_path
    if target.startswith("//"):
        target = "https:" + target
    parts = urlsplit(target)
    if parts.scheme not in ("", "http", "https"):
        raise HostError(link.host, f"unsupported link {target[:60]!r}")
    if site == "megakino":
        if not parts.netloc:
            raise HostError(link.host, f"player link {target[:60]!r} is not an absolute URL")
        return target
    return await fetcher.follow_redirect_location(target)
