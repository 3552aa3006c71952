"""s.to-shaped pages (mounted at /sto)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from anibridge.devworld.aniworld import alphabet_html, flag, redirect, season_table
from anibridge.devworld.model import ANIWORLD_FLAGS, STO_LABELS, EpisodeInfo, TitleInfo
from anibridge.devworld.web import esc, int_param, not_found, page, world_of


def _header(info: TitleInfo) -> str:
    def label(n: int) -> str:
        return "Specials" if n == 0 else f"Staffel {n}"

    links = "".join(
        f'<li><a href="/serie/{info.slug}/staffel-{n}" title="{label(n)}">{label(n)}</a></li>'
        for n in sorted(info.seasons)
    )
    return (
        f'<section class="series-header"><h1 class="series-title">{esc(info.title)}</h1>'
        f'<p class="series-alt">{esc(", ".join(info.entry.alts))}</p>'
        f'<p class="series-description">{esc(info.description)}</p>'
        f'<span class="series-year">{info.year}</span></section>'
        f'<nav class="season-nav"><ul>{links}</ul></nav>'
    )


async def alphabet(request: Request) -> Response:
    world = world_of(request)
    cache: dict[object, bytes] = request.app.state.cache
    key = ("sto", world.day)
    body = cache.get(key)
    if body is None:
        html = alphabet_html(world.entries("sto"), lambda e: f"/serie/{e.slug}", "Serien von A-Z")
        body = cache[key] = page("Serien von A-Z | S.to", html).body
    return Response(body, media_type="text/html; charset=utf-8")


async def series(request: Request) -> Response:
    info = world_of(request).info("sto", request.path_params["slug"])
    if info is None:
        return not_found()
    return page(f"{info.title} | S.to", _header(info))


async def season(request: Request) -> Response:
    world = world_of(request)
    info = world.info("sto", request.path_params["slug"])
    number = int_param(request.path_params["season"])
    if info is None or number is None or number not in info.seasons:
        return not_found()
    base = f"/serie/{info.slug}/staffel-{number}"
    table = season_table(world.season_episodes(info, number), number, lambda m: f"{base}/episode-{m}",
                         ANIWORLD_FLAGS, "Episode")
    return page(f"{info.title} Staffel {number} | S.to", f"{_header(info)}\n{table}")


def buttons(ep: EpisodeInfo) -> str:
    items = "".join(
        f'<button class="link-box" type="button" data-play-url="/redirect/{s.link_id}" '
        f'data-provider-name="{s.hoster}" data-language-label="{STO_LABELS[s.language]}" '
        f'data-language-id="{s.language}" data-link-id="{s.link_id}">{s.hoster}</button>'
        for s in ep.streams
    )
    return (
        f'<div class="episode-header" data-season="{ep.season}" data-episode="{ep.number}">'
        f'<h2 class="episode-title"><strong>{esc(ep.title_de)}</strong> <span>{esc(ep.title_en)}</span></h2></div>'
        f'<div class="episode-links">{items}</div>'
    )


async def episode(request: Request) -> Response:
    world = world_of(request)
    info = world.info("sto", request.path_params["slug"])
    number = int_param(request.path_params["season"])
    ep_number = int_param(request.path_params["episode"])
    if info is None or number is None or ep_number is None:
        return not_found()
    ep = world.episode(info, number, ep_number)
    if ep is None:
        return not_found()
    return page(f"{info.title} | S.to", _header(info) + "\n" + buttons(ep))


routes = [
    Route("/serien-alphabet", alphabet),
    Route("/serien", alphabet),
    Route("/serie/{slug}", series),
    Route("/serie/{slug}/staffel-{season}", season),
    Route("/serie/{slug}/staffel-{season}/episode-{episode}", episode),
    Route("/redirect/{link_id}", redirect),
    Route("/public/img/{name}", flag),
]
