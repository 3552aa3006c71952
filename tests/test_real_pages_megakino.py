"""Megakino parsers and the crawl's Megakino steps on pages shaped like the live site
(``../shared/real-pages/megakino``), served on loopback where a request sequence matters (token gate).

Skipped when that folder is absent (a checkout without the shared evidence)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from anibridge.config import load_settings
from anibridge.crawlers.parsers import megakino
from anibridge.crawlers.parsers.common import HosterLink
from anibridge.crawlers.parsers.problems import collecting
from anibridge.crawlers.site_state import site_fetcher
from anibridge.crawlers.sites import ADAPTERS, check_details
from anibridge.testing import serve_asgi

PAGES = Path(__file__).resolve().parents[1] / ".." / "shared" / "real-pages" / "megakino"
pytestmark = pytest.mark.skipif(not PAGES.is_dir(), reason="../shared/real-pages/megakino is not here")
FILM, SERIAL = "films-5920-die-my-love.html", "serials-5881-i-love-la-1-staffel.html"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def test_sitemap_lists_the_film_and_the_serial() -> None:
    listed = list(megakino.parse_sitemap(page("sitemap.xml")))
    assert [(t.slug, t.path, t.media_type, t.title) for t in listed] == [
        ("5881-i-love-la-1-staffel", "/serials/5881-i-love-la-1-staffel.html", "series", "I Love La"),
        ("5920-die-my-love", "/films/5920-die-my-love.html", "movie", "Die My Love"),
    ]
    assert megakino.parse_sitemap_index(page("sitemap.xml")) == []  # a plain sitemap, not an index


def test_film_page_title_year_and_hosters_without_the_trailer() -> None:
    film = megakino.parse_film(page(FILM))
    assert (film.title, film.year, film.imdb_id) == ("Die My Love", 2025, None)
    assert film.embeds == [
        HosterLink("German Dub", "VOE", "https://voe.sx/e/q0w9e8r7t6y5"),
        HosterLink("German Dub", "GXPlayer", "https://watch.gxplayer.xyz/watch?v=Zx81kQp3"),
    ]
    assert megakino.parse_serial_episodes(page(FILM)) == []
    assert not megakino.is_serial_page(page(FILM))


def test_serial_page_is_episodes_of_one_season_never_a_film() -> None:
    html = page(SERIAL)
    assert megakino.is_serial_page(html)
    episodes = megakino.parse_serial_episodes(html, "5881-i-love-la-1-staffel")
    assert [(e.season, e.episode, e.title) for e in episodes] == [(1, 1, ""), (1, 2, ""), (1, 3, "")]
    for episode, code in zip(episodes, ("01aaaa", "02bbbb", "03cccc"), strict=True):
        assert episode.embeds == [
            HosterLink("German Dub", "VOE", f"https://voe.sx/e/ila1x{code}"),
            HosterLink("German Dub", "GXPlayer", f"https://watch.gxplayer.xyz/watch?v=ila1{code[:2]}"),
        ]
    film = megakino.parse_film(html)
    assert (megakino.series_title(film.title), megakino.season_of(film.title), film.year) == ("I Love LA", 1, 2025)


def test_token_gate_is_recognised_and_real_pages_are_not() -> None:
    assert megakino.token_gate_path(page("token-gate.html")) == "/index.php?yg=token"
    for name in (FILM, SERIAL, "sitemap.xml"):
        assert megakino.token_gate_path(page(name)) is None


@pytest.mark.parametrize(("title", "slug", "season"), [
    ("I Love LA - 1. Staffel", "", 1), ("Dark – Staffel 3", "", 3), ("Babylon Berlin 4. Staffel", "", 4),
    ("Die My Love", "5920-die-my-love", None), ("Serie", "77-serie-2-staffel", 2),
])
def test_season_from_title_or_slug(title: str, slug: str, season: int | None) -> None:
    assert megakino.season_of(title, slug) == season


def test_sitemap_index_children() -> None:
    index = ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             "<sitemap><loc>https://megakino1.to/sitemap-films.xml</loc></sitemap>"
             "<sitemap><loc> https://megakino1.to/sitemap-serials.xml </loc><lastmod>2025-12-17</lastmod></sitemap>"
             "</sitemapindex>")
    assert megakino.parse_sitemap_index(index) == ["https://megakino1.to/sitemap-films.xml",
                                                   "https://megakino1.to/sitemap-serials.xml"]


# --- the crawl's Megakino steps against the real pages, on loopback -----------------------------------
@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, list[str]]]:
    """The real pages behind the real token gate: no cookie, the gate page; /index.php?yg=token sets it.
    /sitemap.xml is an index whose only child is the real sitemap (its URLs pointed here)."""
    seen: list[str] = []

    def gated(request: Request, body: str, media: str = "text/html") -> Response:
        seen.append(request.url.path)
        if request.cookies.get("yg") != "open":
            return HTMLResponse(page("token-gate.html"))
        return Response(body, media_type=media)

    async def opener(request: Request) -> Response:
        seen.append(request.url.path)
        response = PlainTextResponse("")
        response.set_cookie("yg", "open")
        return response

    async def index(request: Request) -> Response:
        loc = f"{request.base_url}sitemap-1.xml"
        return gated(request, f"<sitemapindex><sitemap><loc>{loc}</loc></sitemap></sitemapindex>", "application/xml")

    async def child(request: Request) -> Response:
        return gated(request, page("sitemap.xml").replace("https://megakino1.to/", str(request.base_url)),
                     "application/xml")

    async def film(request: Request) -> Response:
        return gated(request, page(FILM))

    async def serial(request: Request) -> Response:
        return gated(request, page(SERIAL))

    async def damaged_serial(request: Request) -> Response:  # no season in the title, episode 2 without hosters
        html = re.sub(r'(<select[^>]*id="ep2">).*?(</select>)', r"\1\2", page(SERIAL), flags=re.S)
        return gated(request, html.replace("I Love LA - 1. Staffel", "I Love LA"))

    async def damaged_film(request: Request) -> Response:  # no year line
        return gated(request, re.sub(r'<div class="pmovie__year">.*?</div>', "", page(FILM)))

    app = Starlette(routes=[Route("/sitemap.xml", index), Route("/sitemap-1.xml", child), Route("/index.php", opener),
                            Route("/films/5920-die-my-love.html", film),
                            Route("/serials/5881-i-love-la-1-staffel.html", serial),
                            Route("/serials/9-broken.html", damaged_serial),
                            Route("/films/8-broken.html", damaged_film)])
    with serve_asgi(app) as base:
        yield base, seen


def test_crawl_steps_open_the_gate_follow_the_index_and_read_every_field(site: tuple[str, list[str]]) -> None:
    base, seen = site
    settings = load_settings({"MEGAKINO_BASE_URL": base})
    adapter = ADAPTERS["megakino"]

    async def crawl() -> tuple[list[megakino.ListedTitle], dict[str, object]]:
        async with site_fetcher(settings, "megakino", None, max_retries=0) as fetcher:
            listed = list(adapter.parse_list(await adapter.list_text(fetcher)))
            details = {t.slug: await adapter.details(fetcher, t.slug, t.path, t.media_type) for t in listed}
        return listed, details

    listed, details = asyncio.run(crawl())
    assert seen[:4] == ["/sitemap.xml", "/index.php", "/sitemap.xml", "/sitemap-1.xml"]  # gate once, then index
    assert [(t.slug, t.media_type) for t in listed] == [("5881-i-love-la-1-staffel", "series"),
                                                          ("5920-die-my-love", "movie")]
    film = details["5920-die-my-love"]
    assert (film.title, film.year) == ("Die My Love", 2025)  # type: ignore[attr-defined]
    (movie,) = film.episodes  # type: ignore[attr-defined]
    assert (movie.season, movie.episode, movie.languages, movie.hosters) == (1, 1, ["German Dub"], ["VOE", "GXPlayer"])
    serial = details["5881-i-love-la-1-staffel"]
    assert (serial.title, serial.year) == ("I Love LA", 2025)  # type: ignore[attr-defined]
    assert [(e.season, e.episode, e.hosters) for e in serial.episodes] == [  # type: ignore[attr-defined]
        (1, n, ["VOE", "GXPlayer"]) for n in (1, 2, 3)]


def test_what_a_damaged_page_lacks_is_noted_not_dropped(site: tuple[str, list[str]]) -> None:
    base, _ = site
    settings = load_settings({"MEGAKINO_BASE_URL": base})
    adapter = ADAPTERS["megakino"]

    async def read(slug: str, path: str) -> tuple[Any, list[tuple[str, int, str]]]:
        with collecting() as log:
            async with site_fetcher(settings, "megakino", None, max_retries=0) as fetcher:
                details = await adapter.details(fetcher, slug, path, "movie")
            check_details(details, f"{base}{path}")
        return details, log.items()

    serial, problems = asyncio.run(read("9-broken", "/serials/9-broken.html"))
    assert [(e.episode, e.hosters) for e in serial.episodes] == [(1, ["VOE", "GXPlayer"]), (2, []),
                                                                 (3, ["VOE", "GXPlayer"])]
    kinds = {kind: count for kind, count, _ in problems}
    assert kinds == {"Megakino serial pages without a season number (taken as season 1)": 1,
                     "episodes without a hoster": 1, "episodes without a language": 1}  # a player names both
    film, problems = asyncio.run(read("8-broken", "/films/8-broken.html"))
    assert film.year is None and film.episodes[0].hosters == ["VOE", "GXPlayer"]
    assert [(kind, count) for kind, count, _ in problems] == [("Megakino pages without a year (div.pmovie__year)", 1)]
