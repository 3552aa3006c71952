"""Torznab API at /torznab/api, answered only from the catalogue projection (never from providers)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..projections.queries import CatalogQueries, EpisodeHit, TitleHit
from ..releases import build_magnet, estimate_size, info_hash, release_title
from .security import same_secret
from .torznab_params import TorznabError, TorznabQuery, parse_query, split_absolute
from .torznab_xml import TorznabItem, connectivity_item, render_caps, render_error, render_feed, render_item

log = logging.getLogger("anibridge.torznab")
router = APIRouter(tags=["torznab"])

XML = "application/rss+xml; charset=utf-8"
TV, MOVIES = 5000, 2000
LANGUAGE_ORDER = ("German Dub", "German Sub", "English Sub", "English Dub")
_TRAILING_YEAR = re.compile(r"^(?P<title>.+?)\s+\(?(?P<year>(?:19|20)\d\d)\)?$")
# Search only ever looks at this many titles per request: enough for any real query, bounded cost.
MAX_TITLES = 5
# Episodes of one title a search looks at (as CatalogQueries.episodes' default limit).
EPISODES = 1000


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
        return [s for s in sites if s == "megakino"]
    if t == "tvsearch":
        sites = [s for s in sites if s != "megakino"]
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


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(content=body, media_type=XML, status_code=status)


def _error(code: int, description: str, status: int = 200) -> Response:
    return Response(content=render_error(code, description), media_type="application/xml; charset=utf-8",
                    status_code=status)


@router.api_route("/torznab/api", methods=["GET", "POST"])
async def torznab_api(request: Request) -> Response:
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        try:
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        except Exception:
            return _error(201, "Incorrect parameter: request body is not a form", 400)
    if _cheap(params):
        # a thread hop (and the GIL hand-offs around it) costs more than answering right here
        return answer(request.app.state.runtime, params)
    # searches that may list many releases run in the threadpool, not blocking the event loop
    return await run_in_threadpool(answer, request.app.state.runtime, params)


def _cheap(params: Mapping[str, str]) -> bool:
    """Bounded work (well under a millisecond): caps, and one episode of a TV search (at most
    MAX_TITLES titles x one episode x four languages)."""
    t = params.get("t")
    return t == "caps" or (t == "tvsearch" and bool(params.get("ep")) and bool(params.get("season")))


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
        return _xml(render_feed(_probe(settings, catalog, ready, query), settings.indexer_name, query.offset,
                                query.offset + query.limit))
    if sites and not ready:
        return _error(900, _initializing(catalog, sites), 503)
    try:
        items = list(_page(_items(settings, catalog, ready, query), query.offset, query.limit))
    except Exception:
        log.exception("Torznab %s search failed for %r", query.t, dict(params) | {"apikey": "***"})
        return _error(900, "search failed inside AniBridge; see its log", 500)
    total = query.offset + len(items)
    return _xml(render_feed(items, settings.indexer_name, query.offset, total))


def _categories(settings: Settings) -> list[tuple[int, str]]:
    cats = {TV: "TV", settings.torznab_cat_anime: "TV/Anime", MOVIES: "Movies", settings.torznab_cat_movie: "Movies"}
    return sorted(cats.items())


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


def _page(items: Iterator[str], offset: int, limit: int) -> Iterator[str]:
    for i, item in enumerate(items):
        if i >= offset + limit:
            return
        if i >= offset:
            yield item


def _probe(settings: Settings, catalog: CatalogQueries, ready: list[str], q: TorznabQuery) -> list[str]:
    """An RSS-style request (no query): the connectivity item, then the newest releases.

    Paged per release (episode and language), the unit Sonarr counts, in a stable order.
    """
    items = [render_item(connectivity_item(settings.indexer_name, settings.torznab_cat_anime))] if q.offset == 0 else []
    if ready:
        titles: dict[tuple[str, str], TitleHit | None] = {}
        for ep in catalog.latest_releases(ready, limit=q.limit - len(items), offset=max(0, q.offset - 1)):
            key = (ep.site, ep.slug)
            if key not in titles:
                titles[key] = catalog.title(ep.site, ep.slug)
            hit = titles[key]
            if hit is not None:
                items.extend(_episode_items(settings, hit, ep))
    return items[: q.limit]


def _items(settings: Settings, catalog: CatalogQueries, sites: list[str], q: TorznabQuery) -> Iterator[str]:
    if q.t == "movie":
        yield from _movie_items(settings, catalog, sites, q)
        return
    canonical = False
    absolute: int | None = None
    if q.tvdbid:
        titles = catalog.titles_by_tvdb(q.tvdbid, sites)
        canonical = True
        if not titles and q.q:
            titles = catalog.search_titles(q.q, sites, "series", MAX_TITLES)
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
    produced = 0
    for hit in titles:
        if hit.media_type == "movie":
            if q.t != "tvsearch":
                for item in _movie_title_items(settings, catalog, hit):
                    produced += 1
                    yield item
            continue
        if absolute is not None:
            for ep in catalog.episode_by_absolute(hit.site, hit.slug, absolute):
                yield from _episode_items(settings, hit, ep)
            continue
        # The page needs at most `want` more releases: an episode with a language gives at least one,
        # so that many episodes usually suffice; the rest (up to the usual 1,000) only when not.
        want = max(1, q.offset + q.limit - produced)
        first = catalog.episodes(hit.site, hit.slug, q.season, q.ep, canonical=canonical, limit=min(want, EPISODES))
        for ep in first:
            for item in _episode_items(settings, hit, ep):
                produced += 1
                yield item
        if len(first) < min(want, EPISODES) or want >= EPISODES:
            continue
        rest = catalog.episodes(hit.site, hit.slug, q.season, q.ep, canonical=canonical, limit=EPISODES)
        for ep in rest[len(first):]:
            for item in _episode_items(settings, hit, ep):
                produced += 1
                yield item


def _movie_items(settings: Settings, catalog: CatalogQueries, sites: list[str],
                 q: TorznabQuery) -> Iterator[str]:
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
        yield from _movie_title_items(settings, catalog, hit)


def _movie_title_items(settings: Settings, catalog: CatalogQueries, hit: TitleHit) -> Iterator[str]:
    for ep in catalog.episodes(hit.site, hit.slug):
        yield from _episode_items(settings, hit, ep, movie=True)


def _languages(ep: EpisodeHit) -> list[str]:
    """Known languages in a fixed order (a magnet cannot name any other language)."""
    return sorted((lang for lang in ep.languages if lang in LANGUAGE_ORDER), key=LANGUAGE_ORDER.index)


def _episode_items(settings: Settings, hit: TitleHit, ep: EpisodeHit, movie: bool = False) -> Iterator[str]:
    movie = movie or hit.media_type == "movie"
    category = site_category(settings, hit.site, hit.media_type)
    for language in _languages(ep):
        yield _release(hit.site, hit.slug, hit.display_title, hit.media_type, hit.tvdb_id, hit.imdb_id,
                       hit.canon_year or hit.year, ep.season, ep.episode, ep.tvdb_season, ep.tvdb_episode, ep.absolute,
                       ep.first_seen_at, ep.title_de or ep.title_en, language, category, movie)


@lru_cache(maxsize=16_384)
def _release(site: str, slug: str, display_title: str, media_type: str, tvdb_id: int | None, imdb_id: str | None,
             year: int | None, season_: int, episode_: int, tvdb_season: int | None, tvdb_episode: int | None,
             absolute: int | None, first_seen_at: float, description: str, language: str, category: int,
             movie: bool) -> str:
    """One release (episode x language) as its rendered ``<item>`` element. Cached: release names,
    magnets, hashes and the XML of the episodes people search for are built once, not on every
    request (every input is part of the key)."""
    mapped = tvdb_season is not None and tvdb_episode is not None
    season = tvdb_season if mapped else season_
    episode = tvdb_episode if mapped else episode_
    title = release_title(display_title, season, episode, language, site, absolute=absolute, movie_year=year,
                          is_movie=movie)
    digest = info_hash(slug, season_, episode_, language)
    return render_item(TorznabItem(
        title=title,
        guid=digest,
        pub_date=first_seen_at,
        category=category,
        size=estimate_size(movie),
        magnet=build_magnet(site, slug, season_, episode_, language, title),
        info_hash=digest,
        seeders=10,
        peers=10,
        tvdbid=tvdb_id,
        imdbid=(imdb_id or "").removeprefix("tt") or None,
        language=language,
        subs="German" if language == "German Sub" else ("English" if language == "English Sub" else None),
        season=None if movie else season,
        episode=None if movie else episode,
        description=description,
    ))
