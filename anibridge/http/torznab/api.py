"""Torznab API at /torznab/api, answered only from the catalogue projection (never from providers)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ...config import Settings
from ...projections.queries import CatalogQueries, EpisodeHit, EpisodeRow, TitleHit, episode_row
from ...releases import MagnetError
from ..security import same_secret
from .connectivity import connectivity_items
from .feed import connectivity_item, render_caps, render_error, render_feed, render_item
from .params import TorznabError, TorznabQuery, parse_query, split_absolute
from .releases import known_languages, style_of, title_releases
from .season import season_rows
from .skipped import note_skipped

log = logging.getLogger("anibridge.torznab")
router = APIRouter(tags=["torznab"])

XML = "application/rss+xml; charset=utf-8"
TV, MOVIES = 5000, 2000
_TRAILING_YEAR = re.compile(r"^(?P<title>.+?)\s+\(?(?P<year>(?:19|20)\d\d)\)?$")
# Sonarr, Radarr and Prowlarr append their "API Path" setting (default "/api") to the URL: the documented
# URL is http://host:8000/torznab, and the URL earlier releases documented, /torznab/api, then ends in
# /api/api. Both answer.
PATHS = ("/torznab/api", "/torznab/api/api")
# Search only ever looks at this many titles per request: enough for any real query, bounded cost.
MAX_TITLES = 5
# Episodes of one title a search looks at (as CatalogQueries.episodes' default limit).
EPISODES = 1000
# Pages starting at most this far in are answered on the event loop (see _cheap).
INLINE_MAX_OFFSET = 100


@dataclass(frozen=True)
class SiteInfo:
    site: str
    category: int
    group: str


def site_category(settings: Settings, site: str, media_type: str) -> int:
    if media_type == "movie":
        return settings.torznab_cat_movie
    return settings.torznab_cat_anime if site == "aniworld.to" else TV


def _wanted_sites(settings: Settings, cats: list[int], t: str) -> list[str]:
    sites = settings.sites
    if t == "movie":
        # films only; asked for other categories only (e.g. 5000), a movie search finds nothing
        films = [s for s in sites if s == "megakino"]
        return films if not cats or MOVIES in _tops(cats) else []
    # t=tvsearch searches keep Megakino: its serials are series (its films never answer a tvsearch, see
    # _tv_items; the RSS probe leaves Megakino out)
    if not cats:
        return sites
    out = []
    for site in sites:
        offered = {settings.torznab_cat_anime, TV} if site == "aniworld.to" else (
            {settings.torznab_cat_movie, MOVIES, TV} if site == "megakino" else {TV})
        # A parent category covers its subcategories, and a generic subcategory (Sonarr's default
        # 5030/5040) finds its parent; the anime category asks for anime only.
        if offered & set(cats) or any(c - c % 1000 in offered and c != settings.torznab_cat_anime for c in cats):
            out.append(site)
    return out


def _tops(cats: Iterable[int]) -> set[int]:
    """The top-level categories (2000, 5000, ...) of requested categories."""
    return {c - c % 1000 for c in cats}


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(content=body, media_type=XML, status_code=status)


def _error(code: int, description: str, status: int = 200) -> Response:
    return Response(content=render_error(code, description), media_type="application/xml; charset=utf-8",
                    status_code=status)


def _with_header_key(params: dict[str, str], header_key: str | None) -> dict[str, str]:
    """The README's promise: the key may come as ``X-Api-Key`` instead of ``apikey``."""
    if header_key and not params.get("apikey"):
        params["apikey"] = header_key
    return params


async def torznab_api(request: Request) -> Response:
    runtime = request.app.state.runtime
    params = _with_header_key(dict(request.query_params), request.headers.get("x-api-key"))
    if request.method == "POST":
        # The key first: a body is read only for a caller holding it, or as a small in-memory
        # url-encoded form that may carry it. A multipart body without the key is never read (it would
        # be spooled to disk); with the key, file parts are refused.
        expected = runtime.settings.indexer_api_key
        urlencoded = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if expected and not same_secret(params.get("apikey"), expected) and not urlencoded:
            return _error(100, "Incorrect user credentials", 401)
        try:
            form = await request.form(max_files=0, max_fields=100)
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        except Exception:
            return _error(201, "Incorrect parameter: request body is not a form without files", 400)
    return await _respond(runtime, params)


async def _respond(runtime, params: Mapping[str, str]) -> Response:
    try:
        if _cheap(params):
            # a thread hop (and the GIL hand-offs around it) costs more than answering right here
            return answer(runtime, params)
        # searches that may list many releases run in the threadpool, not blocking the event loop
        return await run_in_threadpool(answer, runtime, params)
    except Exception:
        log.exception("Torznab request failed: %r", dict(params) | {"apikey": "***"})
        return _error(900, "AniBridge failed to answer; see its log", 500)


class TorznabFastPath:
    """Answers ``GET /torznab/api`` straight from the ASGI scope, ahead of FastAPI's routing.

    The Torznab API is the hot path (Sonarr, Radarr and Prowlarr poll it), and the FastAPI route's
    per-request work - request object, dependency solving, endpoint wrapping - costs about 55 us,
    against about 6 us here (measured in-process: a caps request 60 -> 14 us). The answer is the
    same as the FastAPI route's, which still serves POST and documents the API.
    """

    def __init__(self, app: ASGIApp, runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and get_route_path(scope) in PATHS:
            # what Starlette's QueryParams does: latin-1 bytes, blank values kept, the last value wins
            params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            if not params.get("apikey"):
                _with_header_key(params, next((v.decode("latin-1") for k, v in scope["headers"]
                                               if k == b"x-api-key"), None))
            response = await _respond(self.runtime, params)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# One handler, one operation per method (a shared GET/POST route gives OpenAPI a duplicate operation id).
for _path in PATHS:
    _id = _path.strip("/").replace("/", "_")
    router.add_api_route(_path, torznab_api, methods=["GET"], operation_id=f"{_id}_get")
    router.add_api_route(_path, torznab_api, methods=["POST"], operation_id=f"{_id}_post")


def _cheap(params: Mapping[str, str]) -> bool:
    """Bounded work, a millisecond or two: caps, one episode of a TV search (at most MAX_TITLES titles
    x one episode x four languages), and any first page (at most offset + limit <= 200 releases are
    rendered). Deep pages render every release they skip and go to the threadpool."""
    t = params.get("t")
    if t == "caps" or (t == "tvsearch" and bool(params.get("ep")) and bool(params.get("season"))):
        return True
    offset = params.get("offset") or "0"
    return offset.isdigit() and len(offset) <= 3 and int(offset) <= INLINE_MAX_OFFSET


def answer(runtime, params: Mapping[str, str]) -> Response:
    settings: Settings = runtime.settings
    key = params.get("apikey")
    if settings.indexer_api_key and not same_secret(key, settings.indexer_api_key):
        return _error(100, "Incorrect user credentials", 401)
    try:
        query = parse_query(params)
    except TorznabError as exc:
        return _error(exc.code, exc.description, 400)
    if query.t == "caps":
        return _xml(render_caps(settings.indexer_name, _categories(settings),
                                tv_params="q,season,ep,tvdbid", movie_params="q,imdbid"))
    catalog: CatalogQueries = runtime.catalog
    sites = _wanted_sites(settings, query.cat, query.t)
    is_probe = not (query.q or query.tvdbid or query.imdbid or query.tmdbid) and query.season is None
    ready = catalog.ready_sites(sites)
    if is_probe:
        if query.t == "tvsearch":  # the newest releases would be Megakino's films too
            ready = [site for site in ready if site != "megakino"]
        with catalog.reader.snapshot():
            items = _probe(settings, catalog, ready, query)
        return _xml(render_feed(items, settings.indexer_name, query.offset, query.offset + query.limit))
    # A tvsearch is about AniWorld and s.to first: Megakino's few serials alone are no answer yet.
    core = [site for site in sites if query.t != "tvsearch" or site != "megakino"] or sites
    if core and not any(site in ready for site in core):
        return _initializing_feed(settings, catalog, core, query)
    try:
        # one read transaction: every query of the answer sees the same catalogue (and it is cheaper
        # than a transaction per query)
        with catalog.reader.snapshot():
            items = _items(settings, catalog, ready, query)
    except Exception:
        log.exception("Torznab %s search failed for %r", query.t, dict(params) | {"apikey": "***"})
        return _error(900, "search failed inside AniBridge; see its log", 500)
    if not items and len(ready) < len(sites):
        # nothing among the sites ready so far: perhaps on a site still reading its titles
        return _initializing_feed(settings, catalog, [s for s in sites if s not in ready], query)
    total = query.offset + len(items)
    return _xml(render_feed(items, settings.indexer_name, query.offset, total))


def _categories(settings: Settings) -> list[tuple[int, str]]:
    cats = {TV: "TV", settings.torznab_cat_anime: "TV/Anime", MOVIES: "Movies", settings.torznab_cat_movie: "Movies"}
    return sorted(cats.items())


def _initializing_feed(settings: Settings, catalog: CatalogQueries, sites: list[str], q: TorznabQuery) -> Response:
    """A search a site still initializing may have answered. Not an error status: Sonarr counts any status
    >= 400 (and any Newznab error) as an indexer failure and stops asking for 1, 5, 15 ... minutes
    (ProviderStatusServiceBase.RecordFailure), so searches would stay off well after the catalogue is
    ready. One item says what is going on; its title does not parse as a release, so nothing grabs it."""
    message = _initializing(catalog, sites)
    log.info("Torznab %s search while initializing: %s", q.t, message)
    notice = connectivity_item(settings.indexer_name, settings.torznab_cat_anime, status=message)
    items = [render_item(notice)] if q.offset == 0 else []
    return _xml(render_feed(items, settings.indexer_name, q.offset, q.offset + len(items)))


def _initializing(catalog: CatalogQueries, sites: list[str]) -> str:
    status = catalog.stage_status()
    parts = []
    for site in sites:
        st = status.get(site, {}).get("titles")
        if st is None:
            parts.append(f"{site}: waiting to start")
        else:
            parts.append(f"{site}: titles {st['state']}, {st['done']} read" + (
                f" (last error: {st['last_error']})" if st.get("last_error") else ""))
    return "AniBridge is initializing its catalogue; try again shortly. " + "; ".join(parts)


def _probe(settings: Settings, catalog: CatalogQueries, ready: list[str], q: TorznabQuery) -> list[str]:
    """An RSS-style request (no query): the newest releases, paged per release (episode, language and
    kind: download or STRM), the unit Sonarr counts, in a stable order.

    Only when there is nothing to show yet does the first page hold the connectivity item(s), which
    Sonarr's and Prowlarr's indexer tests need (they fail on an empty feed). Among real releases they
    would break RSS paging: Sonarr stops paging at the first page holding a release older than the
    newest it saw last time (HttpIndexerBase.FetchReleases), and that item is always old.
    """
    items: list[str] = []
    if ready:
        kinds = len(style_of(settings).strm)  # items per catalogue release (language)
        start = q.offset // kinds
        stop = -(-(q.offset + q.limit) // kinds)
        titles: dict[tuple[str, str], TitleHit | None] = {}
        rendered: list[str] = []
        for ep in catalog.latest_releases(ready, limit=stop - start, offset=start):
            key = (ep.site, ep.slug)
            if key not in titles:
                titles[key] = catalog.title(ep.site, ep.slug)
            hit = titles[key]
            if hit is not None:
                try:
                    rendered.extend(_episode_items(settings, hit, ep))
                except MagnetError as exc:  # one bad title never fails the feed
                    note_skipped(hit.site, hit.slug, str(exc))
                    titles[key] = None
        skip = q.offset - start * kinds
        items = rendered[skip: skip + q.limit]
    if not items and q.offset == 0:
        items = connectivity_items(settings)[: q.limit]
    return items


class _Page:
    """A search's releases in order, rendered until one past the requested page (as far as a lazy
    pager reads). A title a magnet cannot carry is left out (and counted for health), whether or not
    it would be shown: the same answer whatever the page."""

    def __init__(self, settings: Settings, offset: int, limit: int, cats: Iterable[int] = ()) -> None:
        self.settings = settings
        self.tops = _tops(cats)  # empty: every category
        self.offset, self.limit = offset, limit
        self.want = offset + limit + 1
        self.items: list[str] = []

    @property
    def full(self) -> bool:
        return len(self.items) >= self.want

    def add(self, hit: TitleHit, rows: Iterable[EpisodeRow], movie: bool = False) -> None:
        """The releases of ``hit``'s episodes ``rows``, read only as far as the page needs: it is usually
        full long before the last episode."""
        it = iter(rows)
        first = next(it, None)
        if first is None:  # no releases: title_releases (which refuses a bad slug) is not even asked
            return
        category = site_category(self.settings, hit.site, "movie" if movie else hit.media_type)
        if self.tops and category - category % 1000 not in self.tops:
            return  # films for a TV-only request or series for a movie-only one
        try:
            releases = title_releases(hit, category, movie, style_of(self.settings))
            releases.render_rows(chain((first,), it), self.items, self.want)
        except MagnetError as exc:
            note_skipped(hit.site, hit.slug, str(exc))

    def releases(self) -> list[str]:
        return self.items[self.offset: self.offset + self.limit]


def _items(settings: Settings, catalog: CatalogQueries, sites: list[str], q: TorznabQuery) -> list[str]:
    """The releases of the requested page."""
    page = _Page(settings, q.offset, q.limit, q.cat)
    if q.t == "movie":
        _movie_items(catalog, sites, q, page)
    else:
        _tv_items(catalog, sites, q, page)
    return page.releases()


def _tv_items(catalog: CatalogQueries, sites: list[str], q: TorznabQuery, page: _Page) -> None:
    canonical = False
    absolute: int | None = None
    if q.tvdbid:
        titles = catalog.titles_by_tvdb(q.tvdbid, sites)
        canonical = True
        if q.q and q.q.isdigit() and q.season is None and q.ep is None:
            # Sonarr's anime episode search: tvdbid and q=<absolute episode number> (two digits at least)
            absolute = int(q.q)
        elif not titles and q.q:
            titles = catalog.search_titles(q.q, sites, "series", MAX_TITLES)
    elif q.q and (dated := _titles_of_year(catalog, sites, q.q)) is not None:
        # 'Title 2005' / 'Title (2005)': Sonarr's scene title of a TVDB "Title (2005)" and Radarr's
        # 't=search&q=Title 2005' fallback; a trailing year is not an absolute episode number
        titles, canonical = dated, True
    elif q.q:
        titles = []
        canonical = True
        if q.season is None and q.ep is None:
            base, number = split_absolute(q.q)
            if number is not None:
                # 'Title 20' is episode 20 of Title unless a title itself starts with those whole words
                # ('Mob Psycho 100'); a mere prefix ('20' of '2011') does not count.
                whole = catalog.search_titles(q.q, sites, None, MAX_TITLES, prefix=False)
                if not (whole and whole[0].score >= 80):
                    titles = catalog.search_titles(base, sites, "series", MAX_TITLES)
                    absolute = number
        if absolute is None:
            titles = catalog.search_titles(q.q, sites, None, MAX_TITLES)
    else:
        return
    for hit in titles:
        if page.full:
            return
        if hit.media_type == "movie":
            if q.t != "tvsearch":
                page.add(hit, catalog.iter_episode_rows(hit.site, hit.slug), movie=True)
        elif absolute is not None:
            page.add(hit, map(episode_row, catalog.episode_by_absolute(hit.site, hit.slug, absolute)))
        else:
            rows = catalog.iter_episode_rows(hit.site, hit.slug, q.season, q.ep, canonical=canonical,
                                             mapped=hit.mapped, limit=EPISODES)
            page.add(hit, season_rows(page.settings, rows) if q.season is not None and q.ep is None else rows)


def _titles_of_year(catalog: CatalogQueries, sites: list[str], q: str) -> list[TitleHit] | None:
    """Titles for a query ending in a year (19xx/20xx): those of that year first, else the title without
    the year; None when ``q`` has no year or is itself a title's name ('Blade Runner 2049')."""
    m = _TRAILING_YEAR.match(q)
    if m is None:
        return None
    whole = catalog.search_titles(q, sites, None, MAX_TITLES, prefix=False)
    if whole and whole[0].score >= 80:
        return None
    year = int(m.group("year"))
    hits = catalog.search_titles(m.group("title"), sites, None, MAX_TITLES)
    of_year = [h for h in hits if year in (h.canon_year, h.year)]
    return of_year or hits


def _movie_items(catalog: CatalogQueries, sites: list[str], q: TorznabQuery, page: _Page) -> None:
    if q.imdbid:
        titles = catalog.titles_by_imdb(f"tt{q.imdbid}", sites)
    elif q.q:
        text, year = q.q, None
        m = _TRAILING_YEAR.match(q.q)
        if m:
            text, year = m.group("title"), int(m.group("year"))
        titles = catalog.search_titles(text, sites, "movie", MAX_TITLES)
        if year is not None:
            titles.sort(key=lambda h: (-(h.score + (20 if (h.canon_year or h.year) == year else 0))))
    else:
        return
    for hit in titles:
        if page.full:
            return
        page.add(hit, catalog.iter_episode_rows(hit.site, hit.slug), movie=True)


def _episode_items(settings: Settings, hit: TitleHit, ep: EpisodeHit, movie: bool = False) -> Iterator[str]:
    """One rendered ``<item>`` per language of the episode."""
    releases = title_releases(hit, site_category(settings, hit.site, hit.media_type), movie, style_of(settings))
    return releases.render(ep, known_languages(ep))
