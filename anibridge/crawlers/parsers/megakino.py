"""Megakino: movies (and some series) listed in a sitemap; players embedded as iframes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from parsel import Selector

from .common import (
    GERMAN_DUB,
    HosterLink,
    ListedTitle,
    ParseError,
    clean,
    first_year,
    host_name,
    language_from_label,
    load_html,
    slug_words,
    small_int,
    text_of,
)

PAGE_LINK = re.compile(
    r"(?P<path>/(?P<kind>films|serials)/(?P<slug>(?P<id>\d{1,12})-(?P<name>[^/?#\s<>]+?))\.html)"
)
_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>", re.IGNORECASE)
_IMDB = re.compile(r"imdb\.com/title/(tt\d{7,10})")
_TRAILING_YEAR = re.compile(r"\s*\((19\d\d|20\d\d)\)\s*$")


@dataclass(frozen=True, slots=True)
class FilmPage:
    title: str
    year: int | None
    imdb_id: str | None
    embeds: list[HosterLink] = field(default_factory=list)


def parse_sitemap(xml: str | bytes) -> Iterator[ListedTitle]:
    """Film and series pages of a sitemap; titles come from the slug until the page is read."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    seen: set[str] = set()
    for match in PAGE_LINK.finditer(xml):
        slug = match.group("slug")
        if slug in seen:
            continue
        seen.add(slug)
        yield ListedTitle(slug=slug, title=slug_words(match.group("name")), alt_titles=[],
                          path=match.group("path"),
                          media_type="movie" if match.group("kind") == "films" else "series")
    if not seen:
        raise ParseError("sitemap lists no /films/<id>-<slug>.html or /serials/<id>-<slug>.html pages")


def parse_sitemap_index(xml: str | bytes) -> list[str]:
    """The child sitemap URLs (``<loc>...xml</loc>``) of a sitemap index; empty for a plain sitemap."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    return list(dict.fromkeys(url for url in _LOC.findall(xml) if url.split("?", 1)[0].endswith(".xml")))


def parse_film(html: str) -> FilmPage:
    """``/films/<id>-<slug>.html``: title, year, IMDb id and the embedded players."""
    sel = load_html(html, "film page")
    if not sel.css("h1"):
        raise ParseError("film page has no h1 title")
    title = text_of(sel, "h1")
    if not title:
        raise ParseError("film page has an empty h1 title")
    year = first_year(text_of(sel, "span.year")) if sel.css("span.year") else None
    trailing = _TRAILING_YEAR.search(title)
    if trailing and _TRAILING_YEAR.sub("", title):
        year = year or int(trailing.group(1))
        title = _TRAILING_YEAR.sub("", title)
    if year is None:
        year = _year_near_h1(sel)
    imdb = next((m.group(1) for href in sel.css("a::attr(href)").getall() if (m := _IMDB.search(href))), None)
    return FilmPage(title=title, year=year, imdb_id=imdb, embeds=_embeds(sel))


def _year_near_h1(sel: Selector) -> int | None:
    """The first year in the h1's surroundings (its parent block, then the next siblings)."""
    h1 = sel.css("h1")[0]
    for scope in (h1.xpath(".."), h1.xpath("following-sibling::*[position() <= 5]")):
        year = first_year(" ".join(scope.css("::text").getall())[:1000])
        if year:
            return year
    return None


def _embeds(sel: Selector) -> list[HosterLink]:
    links: list[HosterLink] = []
    for frame in sel.css("iframe[data-src], iframe[src]"):
        url = clean(frame.attrib.get("data-src") or frame.attrib.get("src"))
        if not url or url.startswith(("about:", "javascript:", "data:")):
            continue
        if url.startswith("//"):
            url = "https:" + url
        host = host_name(frame.attrib.get("data-provider") or url)
        label = frame.attrib.get("data-lang") or frame.attrib.get("data-language") or ""
        language = language_from_label(label)
        if host:
            links.append(HosterLink(language=language or GERMAN_DUB, host=host, redirect_path=url))
    return list(dict.fromkeys(links))


@dataclass(frozen=True, slots=True)
class SerialEpisode:
    season: int
    episode: int
    title: str
    embeds: list[HosterLink] = field(default_factory=list)


def parse_serial_episodes(html: str) -> list[SerialEpisode]:
    """Episode blocks of a serial page (``div.episode[data-season][data-episode]``); [] on a film page."""
    sel = load_html(html, "serial page")
    out: list[SerialEpisode] = []
    seen: set[tuple[int, int]] = set()
    for block in sel.css("div.episode[data-season][data-episode]"):
        season, episode = small_int(block.attrib.get("data-season")), small_int(block.attrib.get("data-episode"))
        if season is None or episode is None or (season, episode) in seen:
            continue
        seen.add((season, episode))
        title = clean(" ".join(block.css(".episode-title ::text").getall()))
        out.append(SerialEpisode(season, episode, _EPISODE_PREFIX.sub("", title), _embeds(block)))
    return sorted(out, key=lambda e: (e.season, e.episode))


_EPISODE_PREFIX = re.compile(r"^Staffel\s+\d+\s+Folge\s+\d+:\s*", re.IGNORECASE)
