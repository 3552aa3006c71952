"""Title lists and series pages: the shape AniWorld and s.to share."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree
from parsel import Selector

from anibridge.events.types import MediaType

from .common import (
    _CONTROL,
    ListedTitle,
    ParseError,
    SeriesPage,
    clean,
    first_year,
    load_html,
    slug_words,
    small_int,
    split_alt_titles,
    text_of,
)


class _AnchorStream:
    """lxml parser target that keeps only ``<a>`` elements: no document tree is built, so a list
    page of any size costs memory for its anchors in flight, not for the whole page."""

    def __init__(self) -> None:
        self.ready: list[tuple[dict[str, str], str]] = []
        self._attrs: dict[str, str] | None = None
        self._text: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == "a" and "href" in attrib:
            self._attrs, self._text = dict(attrib), []

    def data(self, data: str) -> None:
        if self._attrs is not None:
            self._text.append(data)

    def end(self, tag: str) -> None:
        if tag == "a" and self._attrs is not None:
            self.ready.append((self._attrs, "".join(self._text)))
            self._attrs = None

    def close(self) -> None:
        return None


def _anchors(html: str, what: str) -> Iterator[tuple[dict[str, str], str]]:
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html.strip():
        raise ParseError(f"{what} is empty")
    target = _AnchorStream()
    parser = etree.HTMLParser(target=target, recover=True, remove_comments=True)
    chunk = 1 << 16
    try:
        for start in range(0, len(html), chunk):
            piece = html[start:start + chunk].encode("utf-8", errors="replace").decode("utf-8")
            parser.feed(_CONTROL.sub(" ", piece))
            yield from target.ready
            target.ready.clear()
        parser.close()
    except etree.LxmlError as exc:
        raise ParseError(f"{what} is not parseable HTML ({type(exc).__name__})") from exc
    yield from target.ready


def parse_title_links(html: str, link: re.Pattern[str], *, what: str, hint: str,
                      media_type: MediaType = "series", reserved: frozenset[str] = frozenset()
                      ) -> Iterator[ListedTitle]:
    """Anchors whose href matches ``link`` (groups ``path`` and ``slug``), once per slug.

    Streams through the page (see _AnchorStream). A page with no such anchor at all raises: an
    empty list would read as "every title was removed".
    """
    seen: set[str] = set()
    for attrs, text in _anchors(html, what):
        match = link.search(attrs.get("href", ""))
        if not match:
            continue
        slug = match.group("slug")
        if not slug or slug in reserved or slug in seen:
            continue
        seen.add(slug)
        title = clean(text) or clean(attrs.get("title")) or slug_words(slug)
        alt = [t for t in split_alt_titles(attrs.get("data-alternative-title"))
               if t.casefold() != title.casefold()]
        yield ListedTitle(slug=slug, title=title, alt_titles=alt, path=match.group("path"),
                          media_type=media_type)
    if not seen:
        raise ParseError(f"{what} has no title links ({hint})")


def parse_series_page(html: str, season_link: re.Pattern[str], *, slug: str | None,
                      what: str = "series page") -> SeriesPage:
    """Header and season navigation. ``season_link`` has groups path, slug, season, films."""
    sel = load_html(html, what)
    title = _title(sel, what)
    seasons: dict[int, str] = {}
    has_films = False
    for href in sel.css("a::attr(href)").getall():
        match = season_link.search(href)
        if not match:
            continue
        if slug is None:
            slug = match.group("slug")  # the first season link names the page's own title
        if match.group("slug") != slug:
            continue  # a link to another title (related series, recommendations)
        number = 0 if match.group("films") else small_int(match.group("season"))
        if number is None:
            continue
        has_films = has_films or bool(match.group("films"))
        seasons.setdefault(number, match.group("path"))
    if not seasons:
        raise ParseError(f"{what} has no season links (staffel-<N> or filme)")
    return SeriesPage(title=title, description=_description(sel), year=_year(sel),
                      season_paths=sorted(seasons.items()), has_films=has_films)


def _title(sel: Selector, what: str) -> str:
    if not sel.css("h1"):
        raise ParseError(f"{what} has no h1 title")
    title = text_of(sel, "h1 span") or text_of(sel, "h1")
    if not title:
        raise ParseError(f"{what} has an empty h1 title")
    return title


def _description(sel: Selector) -> str:
    for query in ("p.seri_des::attr(data-full-description)", '[itemprop="description"]::attr(content)',
                  "p.series-description::text"):
        value = clean(sel.css(query).get())
        if value:
            return value
    # s.to v2: the full text sits in .description-text (the page clamps it with CSS only)
    text = (text_of(sel, ".series-description .description-text") or text_of(sel, "p.seri_des")
            or text_of(sel, '[itemprop="description"]'))
    # the meta description is SEO text ("Schaue ... an"): only when the page has nothing else
    return text or clean(sel.css('meta[name="description"]::attr(content)').get())


def _year(sel: Selector) -> int | None:
    for query in ('[itemprop="startDate"]', "span.year", ".year", "span.series-year", ".series-year"):
        year = first_year(text_of(sel, query) + " " + " ".join(sel.css(f"{query}::attr(content)").getall()))
        if year:
            return year
    # s.to v2: the year line links /jahr/<YYYY>
    for href in sel.css('a[href*="/jahr/"]::attr(href)').getall():
        year = first_year(href.rsplit("/jahr/", 1)[-1])
        if year:
            return year
    return None
