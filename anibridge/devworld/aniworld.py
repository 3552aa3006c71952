"""AniWorld-shaped pages (mounted at /aniworld)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from anibridge.devworld.model import ANIWORLD_FLAGS, LANGUAGES, Entry, EpisodeInfo, TitleInfo
from anibridge.devworld.web import esc, int_param, not_found, origin, page, world_of

FLAG_ALT = {1: "Deutsche Flagge", 2: "Englische Flagge", 3: "Deutsche Flagge", 4: "Englische Flagge"}


def alphabet_html(entries: Sequence[Entry], href: Callable[[Entry], str], heading: str) -> str:
    parts = [f'<div class="seriesListContainer" id="seriesContainer"><h2>{esc(heading)}</h2>']
    letter = None
    for e in entries:
        first = e.title[:1].upper()
        first = first if "A" <= first <= "Z" else "#"
        if first != letter:
            if letter is not None:
                parts.append("</ul></div>")
            parts.append(f'<div class="genre"><div class="seriesGenreList"><h3>{first}</h3></div><ul>')
            letter = first
        alts = esc(", ".join(e.alts))
        parts.append(f'<li><a href="{href(e)}" data-alternative-title="{alts}">{esc(e.title)}</a></li>')
    if letter is not None:
        parts.append("</ul></div>")
    parts.append("</div>")
    return "\n".join(parts)


def season_table(
    episodes: Sequence[EpisodeInfo], season: int, href: Callable[[int], str], flags: dict[int, str], label: str
) -> str:
    rows = [f'<table class="seasonEpisodesList" data-season-id="{season}"><thead><tr><th>Folge</th>'
            f"<th>Titel</th><th>Hoster</th><th>Sprache</th></tr></thead><tbody id=\"season{season}\">"]
    for ep in episodes:
        url = href(ep.number)
        icons = "".join(f'<i class="icon {h}" title="Hoster {h}"></i>' for h in ep.hosters)
        imgs = "".join(
            f'<img class="flag" src="/public/img/{flags[lang]}" alt="{FLAG_ALT[lang]}" title="{LANGUAGES[lang]}">'
            for lang in ep.languages
        )
        rows.append(
            f'<tr data-episode-id="{ep.streams[0].link_id}" data-episode-season-id="{ep.number}" itemscope '
            f'itemprop="episode" itemtype="http://schema.org/Episode">'
            f'<td class="season{season}EpisodeID"><meta itemprop="episodeNumber" content="{ep.number}">'
            f'<a itemprop="url" href="{url}">{label} {ep.number}</a></td>'
            f'<td class="seasonEpisodeTitle"><a href="{url}"><strong>{esc(ep.title_de)}</strong> - '
            f"<span>{esc(ep.title_en)}</span></a></td>"
            f'<td><a href="{url}">{icons}</a></td>'
            f'<td class="editFunctions"><a href="{url}">{imgs}</a></td></tr>'
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _header(info: TitleInfo) -> str:
    s = info.structure
    genres = "".join(f'<li><a class="genreButton clearbutton" itemprop="genre">{esc(g)}</a></li>' for g in s.genres)
    end = "Heute" if s.ongoing else str(s.year + max(0, len(s.full) - 2))
    nav = ['<div class="hosterSiteDirectNav" id="stream"><ul><li><span><strong>Staffeln:</strong></span></li>']
    base = f"/anime/stream/{info.slug}"
    if 0 in info.seasons:
        nav.append(f'<li><a href="{base}/filme" title="Alle Filme">Filme</a></li>')
    nav.extend(f'<li><a href="{base}/staffel-{n}" title="Staffel {n}">{n}</a></li>' for n in info.regular_seasons)
    nav.append("</ul></div>")
    return (
        f'<div class="series-title"><h1 itemprop="name"><span>{esc(info.title)}</span></h1>'
        f'<small class="altTitles">{esc(", ".join(info.entry.alts))}</small></div>'
        f'<div class="seriesCoverBox"><img data-src="/public/img/cover/{info.slug}.jpg" alt="{esc(info.title)}"></div>'
        f'<div class="genres" data-main-genre="{esc(s.genres[0])}"><ul>{genres}</ul></div>'
        f'<p class="seri_des" itemprop="accessibilityDescription" data-full-description="{esc(info.description)}">'
        f"{esc(info.description)}</p>"
        f'<div class="series-years"><span itemprop="startDate"><a href="/animes/jahr/{s.year}">{s.year}</a></span>'
        f' - <span itemprop="endDate"><a>{end}</a></span></div>\n' + "".join(nav)
    )


async def alphabet(request: Request) -> Response:
    world = world_of(request)
    cache: dict[object, bytes] = request.app.state.cache
    key = ("aniworld", world.day)
    body = cache.get(key)
    if body is None:
        html = alphabet_html(world.entries("aniworld"), lambda e: f"/anime/stream/{e.slug}", "Animes von A-Z")
        body = cache[key] = page("Animes von A-Z | AniWorld", html).body
    return Response(body, media_type="text/html; charset=utf-8")


async def series(request: Request) -> Response:
    info = world_of(request).info("aniworld", request.path_params["slug"])
    if info is None:
        return not_found()
    return page(f"{info.title} | AniWorld", _header(info))


async def season(request: Request) -> Response:
    world = world_of(request)
    info = world.info("aniworld", request.path_params["slug"])
    raw = request.path_params.get("season")
    number = 0 if raw is None else int_param(raw)
    if info is None or number is None or (number == 0 and raw is not None) or number not in info.seasons:
        return not_found()
    base = f"/anime/stream/{info.slug}"
    if number == 0:
        href, label, heading = (lambda m: f"{base}/filme/film-{m}"), "Film", "Filme"
    else:
        href, label, heading = (lambda m: f"{base}/staffel-{number}/episode-{m}"), "Folge", f"Staffel {number}"
    table = season_table(world.season_episodes(info, number), number, href, ANIWORLD_FLAGS, label)
    return page(f"{info.title} {heading} | AniWorld", f"{_header(info)}\n<h2>{heading}</h2>\n{table}")


async def episode(request: Request) -> Response:
    world = world_of(request)
    info = world.info("aniworld", request.path_params["slug"])
    raw = request.path_params.get("season")
    number = 0 if raw is None else int_param(raw)
    ep_number = int_param(request.path_params["episode"])
    if info is None or number is None or ep_number is None or (number == 0 and raw is not None):
        return not_found()
    ep = world.episode(info, number, ep_number)
    if ep is None:
        return not_found()
    return page(f"{info.title} | AniWorld", _header(info) + "\n" + episode_block(ep))


def episode_block(ep: EpisodeInfo) -> str:
    flags = "".join(
        f'<img data-lang-key="{lang}" src="/public/img/{ANIWORLD_FLAGS[lang]}" title="{LANGUAGES[lang]}">'
        for lang in ep.languages
    )
    items = "".join(
        f'<li class="col-md-3 col-xs-12 col-sm-6 episodeLink{s.link_id}" data-lang-key="{s.language}" '
        f'data-link-id="{s.link_id}" data-link-target="/redirect/{s.link_id}" data-external-embed="false">'
        f'<div><a class="watchEpisode" itemprop="url" href="/redirect/{s.link_id}" target="_blank">'
        f'<i class="icon {s.hoster}" title="Hoster {s.hoster}"></i><h4>{s.hoster}</h4>'
        f'<div class="hosterSiteVideoButton">Video ansehen</div></a></div></li>'
        for s in ep.streams
    )
    return (
        f'<div class="hosterSiteTitle" data-season="{ep.season}" data-episode="{ep.number}"><h2>'
        f'<span class="episodeGermanTitle">{esc(ep.title_de)}</span> '
        f'<small class="episodeEnglishTitle">{esc(ep.title_en)}</small></h2></div>'
        f'<div class="changeLanguageBox">{flags}</div>'
        f'<div class="hosterSiteVideo"><ul class="row">{items}</ul></div>'
    )


async def redirect(request: Request) -> Response:
    link_id = int_param(request.path_params["link_id"])
    found = None if link_id is None else world_of(request).resolve_link(link_id)
    if found is None:
        return not_found()
    _, _, stream = found
    return RedirectResponse(f"{origin(request)}/hosts/{stream.hoster.lower()}/e/{stream.video_id}", status_code=302)


async def flag(request: Request) -> Response:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="12"><rect width="16" height="12"/></svg>'
    return Response(svg, media_type="image/svg+xml")


routes = [
    Route("/animes-alphabet", alphabet),
    Route("/anime/stream/{slug}", series),
    Route("/anime/stream/{slug}/filme", season),
    Route("/anime/stream/{slug}/staffel-{season}", season),
    Route("/anime/stream/{slug}/filme/film-{episode}", episode),
    Route("/anime/stream/{slug}/staffel-{season}/episode-{episode}", episode),
    Route("/redirect/{link_id}", redirect),
    Route("/public/img/{name}", flag),
]
