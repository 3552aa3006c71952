"""Megakino: films and serials listed in a sitemap; DataLife Engine "pmovie" pages with their players.

A film page embeds one iframe per player tab (``div.pmovie__player``); one tab is usually a YouTube
trailer, which is not a hoster. A serial page is one season (its title and slug say which: "I Love LA
- 1. Staffel", ``5881-i-love-la-1-staffel``) and lists each episode's hosters as the options of a
``<select id="ep<N>">``. Before the first page, the site may answer a token gate that asks the browser
to call ``/index.php?yg=token`` and load the page again.
"""

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
# "I Love LA - 1. Staffel", "Dark – Staffel 2", slug "i-love-la-1-staffel"
_SEASON_IN_TITLE = re.compile(r"\s*[-–:|]?\s*(?:(\d{1,3})\.?\s*Staffel|Staffel\s*(\d{1,3}))\s*$", re.IGNORECASE)
_SEASON_IN_SLUG = re.compile(r"-(?:(\d{1,3})-staffel|staffel-(\d{1,3}))$")
_EPISODE_SELECT = re.compile(r"^ep(\d{1,4})$")
_EPISODE_LABEL = re.compile(r"(?:Episode|Folge)\s*(\d{1,4})", re.IGNORECASE)
_GATE = "yg=token"
GATE_OPENER = "/index.php?yg=token"
# Player tabs that are not video hosts (a trailer is not the film).
_NOT_HOSTERS = ("youtube", "youtu", "youtube-nocookie")


@dataclass(frozen=True, slots=True)
class FilmPage:
    title: str
    year: int | None
    imdb_id: str | None
    embeds: list[HosterLink] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SerialEpisode:
    season: int
    episode: int
    title: str
    embeds: list[HosterLink] = field(default_factory=list)


def token_gate_path(html: str) -> str | None:
    """The path that opens Megakino's token gate when ``html`` is the gate page, else None."""
    head = html[:20000]
    if _GATE not in head or "pmovie" in head or "<urlset" in head or "<sitemapindex" in head:
        return None
    return GATE_OPENER


def parse_sitemap(xml: str | bytes) -> Iterator[ListedTitle]:
    """Film and serial pages of a sitemap; titles come from the slug until the page is read."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    seen: set[str] = set()
    for match in PAGE_LINK.finditer(xml):
        slug = match.group("slug")
        if slug in seen:
            continue
        seen.add(slug)
        serial = match.group("kind") == "serials"
        name = match.group("name")
        title = slug_words(_SEASON_IN_SLUG.sub("", name) if serial else name)
        yield ListedTitle(slug=slug, title=title, alt_titles=[], path=match.group("path"),
                          media_type="series" if serial else "movie")
    if not seen:
        raise ParseError("sitemap lists no /films/<id>-<slug>.html or /serials/<id>-<slug>.html pages")


def parse_sitemap_index(xml: str | bytes) -> list[str]:
    """The child sitemap URLs (``<sitemap><loc>...</loc></sitemap>``) of a sitemap index; [] otherwise."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    if "<sitemapindex" not in xml[:4096].lower():
        return []
    return list(dict.fromkeys(url for url in _LOC.findall(xml)))


def season_of(title: str, slug: str = "") -> int | None:
    """The season a serial page is about, from its title ("... - 1. Staffel") or slug ("...-1-staffel")."""
    for match in (_SEASON_IN_TITLE.search(title), _SEASON_IN_SLUG.search(slug)):
        if match:
            return small_int(match.group(1) or match.group(2))
    return None


def series_title(title: str) -> str:
    """"I Love LA - 1. Staffel" -> "I Love LA" (the show's name, as Sonarr knows it)."""
    return _SEASON_IN_TITLE.sub("", title).strip() or title


def parse_film(html: str) -> FilmPage:
    """A film or serial page's title, year, IMDb id and players (trailers left out)."""
    sel = load_html(html, "film page")
    heading = sel.css("div.page__subcols h1") or sel.css("h1")
    if not heading:
        raise ParseError("film page has no h1 title")
    title = text_of(heading[:1])
    if not title:
        raise ParseError("film page has an empty h1 title")
    year = _page_year(sel)
    trailing = _TRAILING_YEAR.search(title)
    if trailing and _TRAILING_YEAR.sub("", title):
        year = year or int(trailing.group(1))
        title = _TRAILING_YEAR.sub("", title)
    if year is None:
        year = _year_near_h1(heading[0])
    imdb = next((m.group(1) for href in sel.css("a::attr(href)").getall() if (m := _IMDB.search(href))), None)
    return FilmPage(title=title, year=year, imdb_id=imdb, embeds=_embeds(sel))


def _page_year(sel: Selector) -> int | None:
    """``div.pmovie__year`` (its ``dateCreated`` first: the line also names the country and length)."""
    for query in ('div.pmovie__year [itemprop="dateCreated"]', "div.pmovie__year", "span.year"):
        if sel.css(query):
            year = first_year(text_of(sel, query))
            if year:
                return year
    return None


def _year_near_h1(h1: Selector) -> int | None:
    """The first year in the h1's surroundings (its parent block, then the next siblings)."""
    for scope in (h1.xpath(".."), h1.xpath("following-sibling::*[position() <= 5]")):
        year = first_year(" ".join(scope.css("::text").getall())[:1000])
        if year:
            return year
    return None


def _hoster(url: str | None, label: str = "", language_label: str = "") -> HosterLink | None:
    url = clean(url)
    if not url or url.startswith(("about:", "javascript:", "data:")):
        return None
    if url.startswith("//"):
        url = "https:" + url
    if _is_trailer(label) or _is_trailer(url):
        return None
    host = host_name(label or url)  # the tab or option names the host; mirror domains would not
    if not host or _is_trailer(host):
        return None
    return HosterLink(language=language_from_label(language_label) or GERMAN_DUB, host=host, redirect_path=url)


def _is_trailer(text: str) -> bool:
    lowered = text.casefold()
    return lowered.startswith("trailer") or any(f"{name}." in lowered or lowered == name for name in _NOT_HOSTERS)


def _frames(sel: Selector) -> list[tuple[Selector, str]]:
    """Player iframes with the name of their tab ("Voe", "GXPlayer", "Trailer"), when the tabs name them."""
    player = sel.css("div.pmovie__player")
    labels = [text_of(span) for span in player.css("div.tabs-block__select > *")]
    contents = player.css("div.tabs-block__content")
    if labels and len(labels) == len(contents):
        return [(frame, label) for content, label in zip(contents, labels, strict=True)
                for frame in content.css("iframe[data-src], iframe[src]")]
    return [(frame, "") for frame in sel.css("iframe[data-src], iframe[src]")]


def _embeds(sel: Selector) -> list[HosterLink]:
    """Player iframes (``data-src`` before ``src``); on a serial page the preview player repeats episode 1."""
    links: list[HosterLink] = []
    for frame, tab in _frames(sel):
        label = frame.attrib.get("data-provider") or tab
        link = _hoster(frame.attrib.get("data-src") or frame.attrib.get("src"), label,
                       frame.attrib.get("data-lang") or frame.attrib.get("data-language") or "")
        if link is not None:
            links.append(link)
    return list(dict.fromkeys(links))


def is_serial_page(html: str) -> bool:
    """A serial page lists episodes (``select#ep<N>``); it is never one film, even with no episode."""
    sel = load_html(html, "serial page")
    return any(_EPISODE_SELECT.match(node.attrib.get("id", "")) for node in sel.css("select[id]"))


def parse_serial_episodes(html: str, slug: str = "") -> list[SerialEpisode]:
    """Each ``<select id="ep<N>">``'s options are episode N's hosters (value: the player URL, text: the host).
    The season comes from the page title or the slug; [] on a film page."""
    sel = load_html(html, "serial page")
    selects = [(node, _EPISODE_SELECT.match(node.attrib.get("id", ""))) for node in sel.css("select[id]")]
    selects = [(node, match) for node, match in selects if match]
    if not selects:
        return []
    heading = sel.css("div.page__subcols h1") or sel.css("h1")
    season = season_of(text_of(heading[:1]) if heading else "", slug) or 1
    labels = {clean(o.attrib.get("value")): clean(text_of(o)) for o in sel.css("select option[value]")}
    out: dict[int, SerialEpisode] = {}
    for node, match in selects:
        number = small_int(match.group(1))
        if number is None or number in out:
            continue
        links = [link for option in node.css("option")
                 if (link := _hoster(option.attrib.get("value"), text_of(option)))]
        label = labels.get(f"ep{number}", "")
        title = "" if _EPISODE_LABEL.fullmatch(label) else label
        out[number] = SerialEpisode(season, number, title, list(dict.fromkeys(links)))
    return [out[n] for n in sorted(out)]
