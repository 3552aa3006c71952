"""Megakino-shaped pages (mounted at /megakino): a sitemap, film pages and serial pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from anibridge.devworld.model import LANGUAGES, Stream, TitleInfo, encode_link
from anibridge.devworld.web import esc, int_param, not_found, origin, page, world_of


def _iframes(streams: list[Stream] | tuple[Stream, ...], host_origin: str) -> str:
    return "".join(
        f'<iframe class="player" src="about:blank" data-src="{host_origin}/hosts/{s.hoster.lower()}/e/{s.video_id}" '
        f'data-provider="{s.hoster}" data-language="{LANGUAGES[s.language]}" allowfullscreen></iframe>'
        for s in streams
    )


def film_streams(info: TitleInfo) -> list[Stream]:
    s = info.structure
    return [Stream(encode_link("megakino", info.uid, 0, 1, s.languages[0], h), s.languages[0], h) for h in s.hosters]


def _meta(info: TitleInfo) -> str:
    imdb = (
        f'<a class="imdb" href="https://www.imdb.com/title/{info.imdb_id}/" target="_blank">IMDb</a>'
        if info.imdb_on_page else ""
    )
    genres = ", ".join(info.structure.genres)
    return (
        f'<div class="film-info"><h1 class="title">{esc(info.title)}</h1>'
        f'<div class="film-meta"><span class="year">{info.year}</span> '
        f'<span class="original-title">{esc(info.names.english)}</span> '
        f'<span class="genres">{esc(genres)}</span> {imdb}</div>'
        f'<div class="film-description">{esc(info.description)}</div></div>'
    )


async def sitemap(request: Request) -> Response:
    world = world_of(request)
    base = f"{origin(request)}/megakino"
    cache: dict[object, bytes] = request.app.state.cache
    key = ("megakino-sitemap", world.day, base)
    body = cache.get(key)
    if body is None:
        urls = "".join(f"<url><loc>{base}{e.path}</loc></url>\n" for e in world.entries("megakino"))
        body = cache[key] = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        ).encode()
    return Response(body, media_type="application/xml")


def _lookup(request: Request, kind: str) -> TitleInfo | None:
    ref: str = request.path_params["ref"]
    number, _, slug = ref.partition("-")
    mk_id = int_param(number)
    if mk_id is None or mk_id < 1000:
        return None
    info = world_of(request).info_by_uid("megakino", mk_id - 1000)
    if info is None or info.entry.kind != kind or info.slug != slug:
        return None
    return info


async def film(request: Request) -> Response:
    info = _lookup(request, "film")
    if info is None:
        return not_found()
    players = f'<div class="player-box">{_iframes(film_streams(info), origin(request))}</div>'
    return page(f"{info.title} ({info.year}) stream | Megakino", _meta(info) + players)


async def serial(request: Request) -> Response:
    info = _lookup(request, "serial")
    if info is None:
        return not_found()
    world = world_of(request)
    host_origin = origin(request)
    blocks = []
    for season in info.regular_seasons:
        for ep in world.season_episodes(info, season):
            blocks.append(
                f'<div class="episode" data-season="{season}" data-episode="{ep.number}">'
                f'<span class="episode-title">Staffel {season} Folge {ep.number}: {esc(ep.title_de)}</span>'
                f"{_iframes(ep.streams, host_origin)}</div>"
            )
    episodes = f'<div class="episodes">{"".join(blocks)}</div>'
    return page(f"{info.title} ({info.year}) | Megakino", _meta(info) + episodes)


routes = [
    Route("/sitemap.xml", sitemap),
    Route("/films/{ref}.html", film),
    Route("/serials/{ref}.html", serial),
]
