"""s.to / SerienStream: series. The "version 2" site (serienstream.to, since early 2026) and the older layout.

v2: title list ``/serien`` (``li.series-item > a[href="/serie/<slug>"]``); ``/serie/<slug>`` is season 1's
page; season pages list ``tr.episode-row`` rows whose target is in the row's ``onclick``, with German and
English titles, ``svg.svg-flag-*`` languages and ``img.watch-link[alt]`` hosters; episode pages hold
``button[data-play-url]`` links to ``/r?t=<token>``. The older layout (``/serien-alphabet``,
``/serie/stream/<slug>``, AniWorld-style season tables) is still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from parsel import Selector

from anibridge.events.types import EpisodeInfo

from .common import (
    ENGLISH_DUB,
    GERMAN_DUB,
    GERMAN_SUB,
    HosterLink,
    ListedTitle,
    ParseError,
    SeriesPage,
    clean,
    dedupe,
    host_name,
    language_from_label,
    load_html,
    order_languages,
    small_int,
    text_of,
)
from .episodes import parse_episode_table, parse_lang_key_hosters
from .links import parse_series_page, parse_title_links
from .problems import note_problem

_SERIE = r"/serie/(?:stream/)?"
TITLE_LINK = re.compile(rf"(?P<path>{_SERIE}(?P<slug>[^/?#\s]+))/?(?:[?#]|$)")
SEASON_LINK = re.compile(
    rf"(?P<path>{_SERIE}(?P<slug>[^/?#\s]+)/(?:staffel-(?P<season>\d{{1,6}})|(?P<films>filme)))/?(?:[?#]|$)"
)
EPISODE_LINK = re.compile(
    rf"(?P<path>{_SERIE}[^/?#\s]+/(?:staffel-(?P<season>\d{{1,6}})/episode-(?P<episode>\d{{1,6}})"
    r"|filme/film-(?P<film>\d{1,6})))/?(?:[?#]|$)"
)
_ONCLICK_TARGET = re.compile(r"""location(?:\.href)?\s*=\s*['"]([^'"]+)['"]""")
_BARE_NUMBER = re.compile(r"(?:(?:episode|folge|e)\s*)?\d+", re.IGNORECASE)

# v2 season rows: the flag's CSS class names the language (the English flag with a German one is
# English audio with German subtitles)
FLAG_CLASSES = {
    "svg-flag-german": GERMAN_DUB,
    "svg-flag-english": ENGLISH_DUB,
    "svg-flag-english-german": GERMAN_SUB,
}
# v2 episode buttons' data-language-id, used when the label says nothing (German Sub's id is not
# documented on the site; 3 is what other clients read)
LANGUAGE_BY_ID = {"1": GERMAN_DUB, "2": ENGLISH_DUB, "3": GERMAN_SUB}
# a button with this provider name is the site's own placeholder, not a video host
PLACEHOLDER_PROVIDERS = frozenset({"provider", "anbieter"})


def parse_alphabet(html: str) -> Iterator[ListedTitle]:
    """Every title on ``/serien`` (v2) or ``/serien-alphabet`` (older)."""
    return parse_title_links(html, TITLE_LINK, what="title list", hint="/serie/<slug>",
                             reserved=frozenset({"stream"}))


def parse_series(html: str, slug: str | None = None) -> SeriesPage:
    """``/serie/<slug>``: header and ``#season-nav``; ``staffel-0`` (specials) is season 0.

    On v2 this page is season 1's page: ``shown_season`` says so, and ``parse_season`` reads it.
    """
    page = parse_series_page(html, SEASON_LINK, slug=slug)
    sel = load_html(html, "series page")
    canonical = SEASON_LINK.search(clean(sel.css('link[rel="canonical"]::attr(href)').get()))
    if canonical and canonical.group("season") and (slug is None or canonical.group("slug") == slug):
        shown = small_int(canonical.group("season"))
        if shown is not None and sel.css("tr.episode-row"):
            return SeriesPage(page.title, page.description, page.year, page.season_paths, page.has_films,
                              shown_season=shown)
    return page


def parse_season(html: str, season: int) -> list[EpisodeInfo]:
    """v2 ``tr.episode-row`` rows, else the older table, else (noted as a problem) the episode links."""
    sel = load_html(html, "season page")
    if sel.css("tr.episode-row"):
        return _episode_rows(sel, season)
    if sel.css("table.seasonEpisodesList"):
        return parse_episode_table(sel, season, EPISODE_LINK)
    episodes = _episodes_from_links(sel, season)
    note_problem("season pages without episode rows (tr.episode-row)", f"staffel-{season}")
    return episodes


def _episode_rows(sel: Selector, season: int) -> list[EpisodeInfo]:
    episodes: dict[int, EpisodeInfo] = {}
    for row in sel.css("tr.episode-row"):
        link = _row_link(row)
        number = small_int(text_of(row, ".episode-number-cell"))
        if number is None and link is not None:
            number = small_int(link.group("episode") or link.group("film"))
        if number is None:
            raise ParseError("season page: an episode row has no number (.episode-number-cell)")
        if link is None:
            raise ParseError(f"season page: episode {number} row has no target (onclick or link)")
        if number in episodes:
            continue
        path = link.group("path")
        languages = _flag_languages(row)
        hosters = dedupe([host_name(alt) for alt in row.css("img.watch-link::attr(alt)").getall()
                          if clean(alt)])
        title_de = clean(row.css(".episode-title-ger::attr(title)").get()) or text_of(row, ".episode-title-ger")
        title_en = clean(row.css(".episode-title-eng::attr(title)").get()) or text_of(row, ".episode-title-eng")
        episodes[number] = EpisodeInfo(season=season, episode=number, title_de=title_de, title_en=title_en,
                                       languages=languages, hosters=hosters, path=path)
    return [episodes[n] for n in sorted(episodes)]


def _row_link(row: Selector) -> re.Match[str] | None:
    targets = _ONCLICK_TARGET.findall(row.attrib.get("onclick", ""))
    targets += row.css("a::attr(href)").getall() + row.css("[data-href]::attr(data-href)").getall()
    for target in targets:
        match = EPISODE_LINK.search(target)
        if match:
            return match
    return None


def _flag_languages(row: Selector) -> list[str]:
    found: list[str] = []
    for svg in row.css("svg"):
        classes = svg.attrib.get("class", "").split()
        refs = [ref.rsplit("#", 1)[-1].replace("icon-flag-", "svg-flag-")
                for ref in svg.css("use::attr(href)").getall()]
        for name in classes + refs:
            language = FLAG_CLASSES.get(name)
            if language:
                found.append(language)
                break
    return order_languages(found)


def _episodes_from_links(sel: Selector, season: int) -> list[EpisodeInfo]:
    paths: dict[int, str] = {}
    titles: dict[int, str] = {}
    for anchor in sel.css("a[href]"):
        match = EPISODE_LINK.search(anchor.attrib.get("href", ""))
        if not match or match.group("film"):
            continue
        if small_int(match.group("season")) != season:
            continue  # season navigation can link episodes of other seasons
        number = small_int(match.group("episode"))
        if number is None:
            continue
        paths.setdefault(number, match.group("path"))
        text = text_of(anchor) or clean(anchor.attrib.get("title"))
        if text and not _BARE_NUMBER.fullmatch(text):
            titles.setdefault(number, text)
    if not paths:
        raise ParseError("season page has no episode rows (tr.episode-row) and no episode links"
                         f" (/serie/<slug>/staffel-{season}/episode-<M>)")
    return [EpisodeInfo(season=season, episode=n, title_de=titles.get(n, ""), path=paths[n])
            for n in sorted(paths)]


def parse_episode_hosters(html: str) -> list[HosterLink]:
    """``#episode-links`` buttons ``button[data-play-url][data-provider-name]`` (v2; the site's placeholder
    "Provider" button is skipped), else the older AniWorld-style list items."""
    sel = load_html(html, "episode page")
    links: list[HosterLink] = []
    buttons = sel.css("button[data-play-url][data-provider-name]")
    for button in buttons:
        attrs = button.attrib
        provider = clean(attrs.get("data-provider-name"))
        if provider.casefold() in PLACEHOLDER_PROVIDERS:
            continue
        language = language_from_label(attrs.get("data-language-label") or "") or LANGUAGE_BY_ID.get(
            clean(attrs.get("data-language-id")))
        url = clean(attrs.get("data-play-url"))
        host = host_name(provider)
        if language and url and host:
            links.append(HosterLink(language=language, host=host, redirect_path=url))
    links = list(dict.fromkeys(links))
    if not links and not buttons:
        links = parse_lang_key_hosters(sel)
    if not links:
        what = "only placeholder hoster buttons" if buttons else "no hoster buttons"
        raise ParseError(f"episode page has {what} (button[data-play-url][data-provider-name])")
    return links
