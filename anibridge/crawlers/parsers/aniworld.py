"""AniWorld (aniworld.to): anime. Paths are returned site-relative (``/anime/stream/...``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from anibridge.events.types import EpisodeInfo

from .common import HosterLink, ListedTitle, ParseError, SeriesPage, load_html
from .episodes import parse_episode_table, parse_lang_key_hosters
from .links import parse_series_page, parse_title_links

# hrefs may be absolute or carry a base path prefix; search() finds the site-relative part
TITLE_LINK = re.compile(r"(?P<path>/anime/stream/(?P<slug>[^/?#\s]+))/?(?:[?#]|$)")
SEASON_LINK = re.compile(
    r"(?P<path>/anime/stream/(?P<slug>[^/?#\s]+)/(?:staffel-(?P<season>\d{1,6})|(?P<films>filme)))/?(?:[?#]|$)"
)
EPISODE_LINK = re.compile(
    r"(?P<path>/anime/stream/[^/?#\s]+/"
    r"(?:staffel-\d{1,6}/episode-(?P<episode>\d{1,6})|filme/film-(?P<film>\d{1,6})))/?(?:[?#]|$)"
)


def parse_alphabet(html: str) -> Iterator[ListedTitle]:
    """Every title on ``/animes-alphabet``."""
    return parse_title_links(html, TITLE_LINK, what="alphabet page", hint="/anime/stream/<slug>")


def parse_series(html: str, slug: str | None = None) -> SeriesPage:
    """``/anime/stream/<slug>``; ``filme`` becomes season 0. Pass ``slug`` to ignore related titles."""
    return parse_series_page(html, SEASON_LINK, slug=slug)


def parse_season(html: str, season: int) -> list[EpisodeInfo]:
    """``/anime/stream/<slug>/staffel-<N>`` (or ``/filme`` with season 0)."""
    return parse_episode_table(load_html(html, "season page"), season, EPISODE_LINK)


def parse_episode_hosters(html: str) -> list[HosterLink]:
    """Hoster links of an episode page, each pointing at ``/redirect/<id>``."""
    links = parse_lang_key_hosters(load_html(html, "episode page"))
    if not links:
        raise ParseError("episode page has no hoster links (li[data-lang-key][data-link-target])")
    return links
