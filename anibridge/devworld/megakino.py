"""Megakino-shaped pages (mounted at /megakino and on each of its domains, /mk/<domain>).

As the live site (``../shared/real-pages/megakino``): ``/sitemap.xml`` is a sitemap index whose
``<sitemap><loc>`` children list ``/films/<id>-<slug>.html`` and ``/serials/<id>-<slug>-1-staffel.html``;
pages use DataLife Engine's "pmovie" template (title in ``div.page__subcols h1``, year in
``div.pmovie__year``, one ``div.tabs-block__content`` iframe per player tab plus a YouTube trailer tab);
a serial page is one season whose episodes are ``<select id="ep<N>">`` with one option per hoster.

Token gate: a client without the ``yg`` cookie of the domain gets a small page that calls
``/index.php?yg=token``; that URL sets the cookie, and the page then answers normally.

Domains (``DOMAINS``): one is live; it moves every ``MOVE_EVERY_DAYS`` world days and on
``POST /_world/megakino/move``. The domain before the live one answers 301 to the same path on the
live one; every other domain resets the connection (it "stops answering").
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from anibridge.devworld.model import Stream, TitleInfo, encode_link
from anibridge.devworld.web import esc, int_param, not_found, origin, page, world_of

DOMAINS = ("megakino.lol", "megakino8.com", "megakino1.to", "megakino.ms", "megakino.video")
MOVE_EVERY_DAYS = 7
COOKIE = "yg"
CHILDREN = ("films", "serials")


def live_index(day: int, moves: int) -> int:
    return (day // MOVE_EVERY_DAYS + moves) % len(DOMAINS)


def prefix_of(request: Request) -> str:
    """The path prefix this request reached Megakino under: /mk/<domain>, /megakino or '' (root paths)."""
    prefix: str = request.scope.get("megakino_prefix", "/megakino")
    return prefix


def _token(prefix: str) -> str:
    return hashlib.sha256(f"megakino-token:{prefix}".encode()).hexdigest()[:20]


def _gated(request: Request) -> Response | None:
    """The token gate page when the request lacks this domain's cookie, else None."""
    if request.cookies.get(COOKIE) == _token(prefix_of(request)):
        return None
    body = ("<script>\nfetch('/index.php?yg=token', {credentials: 'same-origin', headers: "
            "{'X-Requested-With': 'XMLHttpRequest'}})\n  .then(function () { location.reload(); });\n</script>")
    return page("Megakino", body)


async def open_gate(request: Request) -> Response:
    if request.query_params.get("yg") != "token":
        return not_found()
    prefix = prefix_of(request)
    response = PlainTextResponse("ok")
    response.set_cookie(COOKIE, _token(prefix), path=prefix or "/", httponly=True, samesite="lax")
    return response


def film_streams(info: TitleInfo) -> list[Stream]:
    s = info.structure
    return [Stream(encode_link("megakino", info.uid, 0, 1, s.languages[0], h), s.languages[0], h) for h in s.hosters]


def _page_title(info: TitleInfo) -> str:
    return f"{info.title} - 1. Staffel" if info.entry.kind == "serial" else info.title


def _head(info: TitleInfo) -> str:
    imdb = (f'<div class="pmovie__ratings"><a class="imdb" href="https://www.imdb.com/title/{info.imdb_id}/" '
            'target="_blank">IMDb</a></div>' if info.imdb_on_page else "")
    genres = " / ".join(("Serien" if info.entry.kind == "serial" else "Filme", *info.structure.genres))
    return (
        '<div class="page__subcols d-flex js-bg-poster"><header class="page__subcol-header">'
        f"<h1>{esc(_page_title(info))}</h1>"
        f'<div class="pmovie__original-title" itemprop="alternativeHeadline">{esc(info.names.english)}</div>'
        '</header><header class="page__subcol-meta">'
        '<div class="pmovie__year"><span itemprop="countryOfOrigin">USA</span>, <span itemprop="dateCreated">'
        f'<a href="/xfsearch/year/{info.year}/">{info.year}</a></span>, 104 min</div>'
        f'<div class="pmovie__genres" itemprop="genre">{esc(genres)}</div>{imdb}</header>'
        f'<div class="page__text full-text clearfix" itemprop="description">{esc(info.description)}</div></div>'
    )


def _trailer(info: TitleInfo) -> str:
    return f"https://www.youtube.com/embed/{hashlib.sha1(info.slug.encode()).hexdigest()[:11]}"


def _host_url(host_origin: str, s: Stream) -> str:
    return f"{host_origin}/hosts/{s.hoster.lower()}/e/{s.video_id}"


def _article(info: TitleInfo, player: str) -> str:
    return (f'<div id="dle-content"><article class="page ignore-select pmovie">{_head(info)}'
            f'<link itemprop="embedUrl" href="{_trailer(info)}"><div class="pmovie__player tabs-block">{player}'
            "</div></article></div>")


async def sitemap(request: Request) -> Response:
    if (gate := _gated(request)) is not None:
        return gate
    base = origin(request) + prefix_of(request)
    children = "".join(f"<sitemap><loc>{base}/sitemap-{kind}.xml</loc></sitemap>\n" for kind in CHILDREN)
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{children}</sitemapindex>\n')
    return Response(body, media_type="application/xml")


async def child_sitemap(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in CHILDREN:
        return not_found()
    if (gate := _gated(request)) is not None:
        return gate
    world = world_of(request)
    base = origin(request) + prefix_of(request)
    cache: dict[object, bytes] = request.app.state.cache
    key = ("megakino-sitemap", kind, world.day, base)
    body = cache.get(key)
    if body is None:
        wanted = "film" if kind == "films" else "serial"
        urls = "".join(f"<url><loc>{base}{e.path}</loc><lastmod>2025-12-17</lastmod></url>\n"
                       for e in world.entries("megakino") if e.kind == wanted)
        body = cache[key] = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        ).encode()
    return Response(body, media_type="application/xml")


def _lookup(request: Request, kind: str) -> TitleInfo | None:
    ref: str = request.path_params["ref"]
    if kind == "serial":
        if not ref.endswith("-1-staffel"):
            return None
        ref = ref.removesuffix("-1-staffel")
    number, _, slug = ref.partition("-")
    mk_id = int_param(number)
    if mk_id is None or mk_id < 1000:
        return None
    info = world_of(request).info_by_uid("megakino", mk_id - 1000)
    if info is None or info.entry.kind != kind or info.slug != slug:
        return None
    return info


async def film(request: Request) -> Response:
    if (gate := _gated(request)) is not None:
        return gate
    info = _lookup(request, "film")
    if info is None:
        return not_found()
    streams = film_streams(info)
    host_origin = origin(request)
    tabs = "".join(f"<span>{esc(s.hoster)}</span>" for s in streams) + "<span>Trailer</span>"
    frames = "".join(
        '<div class="tabs-block__content d-none video-inside video-responsive">'
        f'<iframe{" id=film_main" if i == 0 else ""} data-src="{src}" frameborder="0" allowfullscreen></iframe></div>'
        for i, src in enumerate([*(_host_url(host_origin, s) for s in streams), _trailer(info)]))
    player = (f'<div class="pmovie__player-controls d-flex ai-center"><div class="tabs-block__select d-flex '
              f'flex-grow-1">{tabs}</div></div>{frames}')
    return page(f"{info.title} ({info.year}) Stream Deutsch | Megakino", _article(info, player))


async def serial(request: Request) -> Response:
    if (gate := _gated(request)) is not None:
        return gate
    info = _lookup(request, "serial")
    if info is None:
        return not_found()
    world = world_of(request)
    host_origin = origin(request)
    episodes = [ep for season in info.regular_seasons[:1] for ep in world.season_episodes(info, season)]
    if not episodes:
        return not_found()
    first = _host_url(host_origin, episodes[0].streams[0])
    choose = "".join(f'<option value="ep{ep.number}">Episode {ep.number}</option>' for ep in episodes)
    selects = "".join(
        f'<select name="pmovie__select-items" class="flex-grow-1 mr-select" style="display: none;" id="ep{ep.number}">'
        + "".join(f'<option value="{_host_url(host_origin, s)}">{esc(s.hoster)}</option>' for s in ep.streams)
        + "</select>" for ep in episodes)
    player = (
        '<div class="tabs-block__content video-inside video-responsive">'
        f'<iframe id="film_main" src="{first}" frameborder="0" allowfullscreen></iframe></div>'
        '<div class="pmovie__player-bottom d-flex ai-center"><div class="pmovie__series-select d-flex ai-center">'
        '<div class="pmovie__series-select-caption">Episode wählen</div>'
        f'<select name="pmovie__select-items" class="flex-grow-1 se-select" id="se-select">{choose}</select>'
        f"{selects}</div></div>"
    )
    return page(f"{_page_title(info)} Stream Deutsch | Megakino", _article(info, player))


routes = [
    Route("/sitemap.xml", sitemap),
    Route("/sitemap-{kind}.xml", child_sitemap),
    Route("/index.php", open_gate),
    Route("/films/{ref}.html", film),
    Route("/serials/{ref}.html", serial),
]
