"""s.to-shaped pages (mounted at /sto).

By default the "version 2" site as serienstream.to serves it (PROVIDERS.md, real-pages/sto): title list
``/serien`` of ``li.series-item`` rows; ``/serie/<slug>`` is season 1's page; season pages with
``tr.episode-row`` rows (``onclick`` targets, ``svg.svg-flag-*`` languages, ``img.watch-link`` hosters);
episode pages with ``button[data-play-url]`` links to ``/r?t=<token>`` (plus the site's placeholder
"Provider" button), which answer 302 to the host. ``sto_layout="v1"`` (``DevWorldApp``) serves the
older layout: AniWorld-style season tables and ``/redirect/<id>`` links.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from anibridge.devworld.aniworld import alphabet_html, flag, redirect, season_table
from anibridge.devworld.model import ANIWORLD_FLAGS, STO_LABELS, EpisodeInfo, TitleInfo
from anibridge.devworld.web import esc, int_param, not_found, origin, page, world_of

LAYOUTS = ("v2", "v1")
# world language id -> (svg flag class, data-language-id, data-language-label) on the v2 site
V2_LANGUAGES: dict[int, tuple[str, int, str]] = {
    1: ("svg-flag-german", 1, "Deutsch"),
    4: ("svg-flag-english", 2, "Englisch"),
    3: ("svg-flag-english-german", 3, "Englisch (Deutsche Untertitel)"),
    2: ("svg-flag-japanese-english", 4, "Englisch (Untertitel)"),  # s.to titles never have it; kept total
}


def _layout(request: Request) -> str:
    return str(getattr(request.app.state, "sto_layout", "v2"))


# --- v2 -------------------------------------------------------------------------------------------
def play_token(link_id: int | str) -> str:
    """An opaque-looking ``/r?t=`` token (the real site's are encrypted; ours just encode the link id)."""
    raw = f'{{"iv":"devworld","value":"{link_id}","mac":"{zlib.crc32(str(link_id).encode()):08x}"}}'
    return base64.urlsafe_b64encode(raw.encode()).decode()


def link_of_token(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    head, sep, rest = raw.partition('"value":"')
    return int_param(rest.partition('"')[0]) if sep else None


def _nav() -> str:
    return ('<nav class="navbar"><a class="navbar-brand" href="/"><span class="logo-summary">Version 2</span></a>'
            '<ul class="navbar-nav"><li class="nav-item"><a class="nav-link" href="/">Startseite</a></li>'
            '<li class="nav-item"><a class="nav-link" href="/serien">Serien</a></li>'
            '<li class="nav-item"><a class="nav-link" href="/beliebte-serien">Beliebt</a></li></ul></nav>')


def _v2_page(title: str, canonical: str, description: str, body: str) -> Response:
    head = (f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="description" content="{esc(description)}">'
            f'<link rel="canonical" href="{esc(canonical)}"></head>\n<body data-is-staff="0">\n')
    return Response(head + _nav() + body + "\n</body></html>\n", media_type="text/html; charset=utf-8")


def _seo(info: TitleInfo, season: int) -> str:
    return f"Schaue {info.title} Staffel {season} an. Alle Episoden verfügbar zum Streamen online. " + \
        info.description[:80] + "..."


def _season_nav(info: TitleInfo, current: int) -> str:
    pills = "".join(
        f'<li class="nav-item me-1 mb-2"><a href="/serie/{info.slug}/staffel-{n}" class="alphabet-link nav-link'
        f'{" bg-primary" if n == current else ""}" data-season-pill="{n}"> {n} </a></li>'
        for n in sorted(info.seasons))
    return (f'<nav class="mb-2" id="season-nav"><ul class="nav list-items-nav"><li class="nav-item me-2">'
            f'<span class="season-pills__label">Staffeln:</span></li>{pills}</ul></nav>')


def _episode_nav(info: TitleInfo, season: int, count: int) -> str:
    items = "".join(f'<li class="nav-item me-1 mb-2"><a href="/serie/{info.slug}/staffel-{season}/episode-{m}"'
                    f' class="alphabet-link nav-link">{m}</a></li>' for m in range(1, count + 1))
    return (f'<nav class="mb-3" id="episode-nav"><ul class="nav list-items-nav"><li class="nav-item me-2">'
            f'<span class="season-pills__label">Episoden:</span></li>{items}</ul></nav>')


def _v2_header(info: TitleInfo, crumb: str) -> str:
    return (
        '<div class="show-header-wrapper"><div class="container-fluid">'
        '<nav aria-label="breadcrumb"><ol class="breadcrumb">'
        '<li class="breadcrumb-item"><a href="/" title="Startseite">Startseite</a></li>'
        '<li class="breadcrumb-item"><a href="/serien" title="Serien">Serien</a></li>'
        f'<li class="breadcrumb-item show-name"><a href="/serie/{info.slug}" title="{esc(info.title)}">'
        f'{esc(info.title)}</a></li>{crumb}</ol></nav>'
        f'<h1 class="h2 mb-1 fw-bold">{esc(info.title)}</h1>'
        f'<p class="small text-muted mb-2"><a class="small text-muted" href="/jahr/{info.year}">{info.year}</a>'
        f' – <span class="small text-muted">{"NA" if info.structure.ongoing else info.year + 1}</span>'
        ' &bull; FSK 12</p>'
        f'<div class="series-description" id="series-desc-{info.uid}"><p class="clamped">'
        f'<span class="description-text">{esc(info.description)}</span></p>'
        '<button type="button" class="show-more-toggle" data-expanded="false">Mehr anzeigen</button></div>'
    )


def _v2_rows(info: TitleInfo, season: int, episodes: list[EpisodeInfo]) -> str:
    rows = []
    for ep in episodes:
        target = f"/serie/{info.slug}/staffel-{season}/episode-{ep.number}"
        hosters = "".join(f'<img src="/storage/providers/{h.lower()}.svg" alt="{h}" title="{h}" class="watch-link"'
                          ' width="32" height="32">' for h in ep.hosters)
        flags = "".join(
            f'<svg class="watch-language large {V2_LANGUAGES[lang][0]}" width="44" height="32">'
            f'<use href="#icon-{V2_LANGUAGES[lang][0].removeprefix("svg-")}"></use></svg>' for lang in ep.languages)
        rows.append(
            f'<tr class="episode-row " onclick="window.location=\'{target}\'">'
            f'<th scope="row" class="text-center fw-semibold episode-number-cell">{ep.number}</th>'
            '<td class="fw-medium episode-title-cell">'
            f'<strong class="d-block episode-title-ger" title="{esc(ep.title_de)}">{esc(ep.title_de)}</strong>'
            f'<span class="text-white-50 episode-title-eng" title="{esc(ep.title_en)}">{esc(ep.title_en)}</span></td>'
            f'<td class="episode-watch-cell"><div class="text-end">{hosters}</div></td>'
            f'<td class="text-end episode-language-cell">{flags}</td></tr>'
        )
    return ('<section class="episode-section mt-4"><h2 class="h3 m-0 fw-bold"> '
            f'{"Specials" if season == 0 else f"Staffel {season}"} </h2>'
            '<div class="table-responsive episode-table-wrap"><table class="table episode-table"><thead><tr>'
            '<th>#</th><th>Titel</th><th>Wo anschauen</th><th>Sprache</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></section>')


def _v2_season(request: Request, info: TitleInfo, number: int) -> Response:
    episodes = world_of(request).season_episodes(info, number)
    crumb = (f'<li class="breadcrumb-item active" aria-current="page" title="Staffel {number}">'
             f"Staffel {number}</li>")
    body = (_v2_header(info, crumb) + _season_nav(info, number) + _episode_nav(info, number, len(episodes))
            + _v2_rows(info, number, episodes) + "</div></div>")
    return _v2_page(f"{info.title} Staffel {number} | SerienStream (S.to)",
                    f"/serie/{info.slug}/staffel-{number}", _seo(info, number), body)


def v2_buttons(ep: EpisodeInfo) -> str:
    """``#episode-links``: per language its heading, its hosters' buttons and the site's placeholder."""
    parts = ['<div id="episode-links" class="row">']
    for lang in ep.languages:
        _, lang_id, label = V2_LANGUAGES[lang]
        parts.append(f'<div class="col-12"><h5 class="h6 mt-2 ms-1 text-muted">{esc(label)}</h5></div>')
        for s in (s for s in ep.streams if s.language == lang):
            parts.append(
                '<div class="col-12 col-sm-6"><div class="link-wrapper position-relative">'
                f'<button type="button" class="link-box btn btn-dark" data-link-id="{s.link_id}" '
                f'data-play-url="/r?t={play_token(s.link_id)}" data-auto-embed="1" '
                f'data-provider-name="{s.hoster}" data-language-label="{esc(label)}" data-language-id="{lang_id}">'
                f'<img src="/storage/providers/{s.hoster.lower()}.svg" alt="{s.hoster}" title="{s.hoster}"'
                f' class="watch-link small"><span class="text-white ms-1">{s.hoster}</span></button></div></div>')
        placeholder = f"anbieter-{ep.streams[0].link_id}-{lang}"  # leads to no stream
        parts.append(
            '<div class="col-12 col-sm-6"><div class="link-wrapper position-relative">'
            f'<button type="button" class="link-box btn btn-dark" data-link-id="{placeholder}" '
            f'data-play-url="/r?t={play_token(placeholder)}" data-auto-embed="0" data-provider-name="Provider" '
            f'data-language-label="{esc(label)}" data-language-id="{lang_id}">'
            '<span class="text-white ms-1">Anbieter</span></button></div></div>')
    parts.append("</div>")
    return "".join(parts)


def _v2_episode(request: Request, info: TitleInfo, ep: EpisodeInfo) -> Response:
    crumb = (f'<li class="breadcrumb-item"><a href="/serie/{info.slug}/staffel-{ep.season}" '
             f'title="Staffel {ep.season}">Staffel {ep.season}</a></li>'
             f'<li class="breadcrumb-item active" aria-current="page">Episode {ep.number}</li>')
    first = ep.streams[0]
    heading = f"S{ep.season:02d}E{ep.number:02d}: {esc(ep.title_de)}" + (f" ({esc(ep.title_en)})" if ep.title_en
                                                                          else "")
    body = (
        _v2_header(info, crumb) + f'<article class="text-light mb-3"><h2 class="h4 mb-1">{heading}</h2>'
        f'<iframe id="player-iframe" src="/r?t={play_token(first.link_id)}" loading="lazy"></iframe>'
        + v2_buttons(ep) + "</article>"
        + _season_nav(info, ep.season) + "</div></div>"
    )
    return _v2_page(f"{info.title} S{ep.season:02d}E{ep.number:02d} | SerienStream (S.to)",
                    f"/serie/{info.slug}/staffel-{ep.season}/episode-{ep.number}", _seo(info, ep.season), body)


def _v2_list(request: Request) -> Response:
    world = world_of(request)
    cache: dict[object, bytes] = request.app.state.cache
    key = ("sto-v2", world.day)
    body = cache.get(key)
    if body is None:
        rows = "\n".join(
            f'<li class="series-item" data-search="{esc(e.title.lower())}">'
            f'<a href="/serie/{e.slug}">{esc(e.title)}</a></li>' for e in world.entries("sto"))
        html = (_nav() + '<div class="container-fluid"><nav class="catalog-nav">'
                + "".join(f'<a href="/katalog/{c}" class="alphabet-link nav-link">{c}</a>' for c in "ABCXYZ")
                + f'</nav><div class="background-1 p-2"><h3>A-Z</h3></div><ul class="series-list small">\n{rows}\n'
                  "</ul></div>")
        body = cache[key] = _v2_page("Serien | SerienStream (S.to)", "/serien", "Alle Serien", html).body
    return Response(body, media_type="text/html; charset=utf-8")


async def play(request: Request) -> Response:
    """``/r?t=<token>``: 302 to the stream's host embed (a placeholder's token leads nowhere)."""
    link_id = link_of_token(request.query_params.get("t", ""))
    found = None if link_id is None else world_of(request).resolve_link(link_id)
    if found is None:
        return not_found()
    _, _, stream = found
    return RedirectResponse(f"{origin(request)}/hosts/{stream.hoster.lower()}/e/{stream.video_id}", status_code=302)


# --- v1 -------------------------------------------------------------------------------------------
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


# --- routes (both layouts) ------------------------------------------------------------------------
async def alphabet(request: Request) -> Response:
    world = world_of(request)
    if _layout(request) == "v2":
        return _v2_list(request)
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
    if _layout(request) == "v2":  # the series page is its first season's page
        return _v2_season(request, info, 1 if 1 in info.seasons else min(info.seasons))
    return page(f"{info.title} | S.to", _header(info))


async def season(request: Request) -> Response:
    world = world_of(request)
    info = world.info("sto", request.path_params["slug"])
    number = int_param(request.path_params["season"])
    if info is None or number is None or number not in info.seasons:
        return not_found()
    if _layout(request) == "v2":
        return _v2_season(request, info, number)
    base = f"/serie/{info.slug}/staffel-{number}"
    table = season_table(world.season_episodes(info, number), number, lambda m: f"{base}/episode-{m}",
                         ANIWORLD_FLAGS, "Episode")
    return page(f"{info.title} Staffel {number} | S.to", f"{_header(info)}\n{table}")


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
    if _layout(request) == "v2":
        return _v2_episode(request, info, ep)
    return page(f"{info.title} | S.to", _header(info) + "\n" + buttons(ep))


routes = [
    Route("/serien-alphabet", alphabet),
    Route("/serien", alphabet),
    Route("/serie/{slug}", series),
    Route("/serie/{slug}/staffel-{season}", season),
    Route("/serie/{slug}/staffel-{season}/episode-{episode}", episode),
    Route("/r", play),
    Route("/redirect/{link_id}", redirect),
    Route("/public/img/{name}", flag),
]
