"""s.to / SerienStream: series. Current paths ``/serie/<slug>``, older ``/serie/stream/<slug>``."""

from __future__ import annotations

import re
from collections.abc import Iterator

from parsel import Selector

from anibridge.events.types import EpisodeInfo

from .common import (
    LANGUAGE_BY_KEY,
    HosterLink,
    ListedTitle,
    ParseError,
    SeriesPage,
    clean,
    host_name,
    language_from_label,
    load_html,
    small_int,
    text_of,
)
from .episodes import parse_episode_table, parse_lang_key_hosters
from .links import parse_series_page, parse_title_links

_SERIE = r"/serie/(?:stream/)?"
TITLE_LINK = re.compile(rf"(?P<path>{_SERIE}(?P<slug>[^/?#\s]+))/?(?:[?#]|$)")
SEASON_LINK = re.compile(
    rf"(?P<path>{_SERIE}(?P<slug>[^/?#\s]+)/(?:staffel-(?P<season>\d{{1,6}})|(?P<films>filme)))/?(?:[?#]|$)"
)
EPISODE_LINK = re.compile(
    rf"(?P<path>{_SERIE}[^/?#\s]+/(?:staffel-(?P<season>\d{{1,6}})/episode-(?P<episode>\d{{1,6}})"
    r"|filme/film-(?P<film>\d{1,6})))/?(?:[?#]|$)"
)
_BARE_NUMBER = re.compile(r"(?:(?:episode|folge|e)\s*)?\d+", re.IGNORECASE)


def parse_alphabet(html: str) -> Iterator[ListedTitle]:
    """Every title on ``/serien-alphabet`` (or the older ``/serien``)."""
    return parse_title_links(html, TITLE_LINK, what="alphabet page", hint="/serie/<slug>",
                             reserved=frozenset({"stream"}))


def parse_series(html: str, slug: str | None = None) -> SeriesPage:
    """``/serie/<slug>``; ``staffel-0`` (specials) is season 0."""
    return parse_series_page(html, SEASON_LINK, slug=slug)


def parse_season(html: str, season: int) -> list[EpisodeInfo]:
    """The AniWorld-style table when present, else the episode links of that season."""
    sel = load_html(html, "season page")
    if sel.css("table.seasonEpisodesList"):
        return parse_episode_table(sel, season, EPISODE_LINK)
    return _episodes_from_links(sel, season)


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
        raise ParseError(f"season page has no episode links (/serie/<slug>/staffel-{season}/episode-<M>)")
    return [EpisodeInfo(season=season, episode=n, title_de=titles.get(n, ""), path=paths[n])
            for n in sorted(paths)]


def parse_episode_hosters(html: str) -> list[HosterLink]:
    """``button[data-play-url][data-provider-name]`` (current site) or AniWorld-style list items."""
    sel = load_html(html, "episode page")
    links: list[HosterLink] = []
    for button in sel.css("button[data-play-url][data-provider-name]"):
        attrs = button.attrib
        language = LANGUAGE_BY_KEY.get(clean(attrs.get("data-language-id"))) or language_from_label(
            attrs.get("data-language-label") or "")
        url = clean(attrs.get("data-play-url"))
        host = host_name(attrs.get("data-provider-name") or "")
        if language and url and host:
            links.append(HosterLink(language=language, host=host, redirect_path=url))
    links = list(dict.fromkeys(links)) or parse_lang_key_hosters(sel)
    if not links:
        raise ParseError("episode page has no hoster buttons (button[data-play-url][data-provider-name])")
    return links
