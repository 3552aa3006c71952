"""Release ``<item>`` elements of search results, rendered fast.

A search answers with dozens of releases of the same few titles, so everything a title's releases
share (release-name prefix, category and id attributes, magnet site fields) is worked out once per
title and everything a site's releases in one language share once per site and language; a release
then costs one SHA-1 and two string formats. The output is byte for byte what
``feed.render_item`` makes of the same release (``tests/test_torznab_releases.py`` holds the
two side by side).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from hashlib import sha1

from ...projections.queries import EpisodeHit, EpisodeRow, TitleHit
from ...releases import (
    LANGUAGES,
    MAX_NUMBER,
    check_magnet_fields,
    estimate_size,
    language_tag,
    quality_tag,
    quote_magnet_value,
    release_group,
    site_prefix,
    title_words,
)
from .feed import ENCLOSURE_TYPE, _attr, _digits, _parent, _rfc822_second, _text

SEEDERS = PEERS = 10
_SUBS = {"German Sub": "German", "English Sub": "English"}
_QUALITY = quality_tag(None)


@dataclass(frozen=True, slots=True)
class _Language:
    """What every release of one site in one language has in common."""

    name: str
    title_tail: str  # ".1080p.WEB.H264.GER.SUB-ANIWORLD"
    magnet_tail: str  # "&amp;aw_lang=German+Sub&amp;aw_site=aniworld.to"
    attrs: str  # language and subs attributes


@cache
def _language(site: str, name: str) -> _Language:
    subs = _SUBS.get(name)
    attrs = f'<torznab:attr name="language" value="{_attr(name)}"/>'
    if subs:
        attrs += f'<torznab:attr name="subs" value="{_attr(subs)}"/>'
    prefix = site_prefix(site)
    return _Language(
        name=name, title_tail=f".{_QUALITY}.WEB.H264.{language_tag(name)}-{release_group(site)}",
        magnet_tail=f"&amp;{prefix}_lang={quote_magnet_value(name)}&amp;{prefix}_site={quote_magnet_value(site)}",
        attrs=attrs)


@lru_cache(maxsize=256)
def _known_languages(site: str, languages: str) -> tuple[_Language, ...]:
    """An episode's ``languages`` column ("German Dub,German Sub"): those a magnet can name, in their fixed order."""
    names = languages.split(",")
    return tuple(_language(site, lang) for lang in LANGUAGES if lang in names)


@lru_cache(maxsize=4096)
def _numbers(season: int, episode: int) -> tuple[str, str]:
    """The episode tag of a release name (".S01E02") and the season and episode attributes."""
    return (f".S{season:02d}E{episode:02d}", f'<torznab:attr name="season" value="{season}"/>'
                                             f'<torznab:attr name="episode" value="{episode}"/>')


@dataclass(frozen=True, slots=True)
class TitleReleases:
    """What every release of one title has in common, pre-rendered: each run of markup between an
    item's own values (date, description, magnet, hash, numbers, language) is one string."""

    site: str
    slug: str
    name: str  # release-name words up to the episode tag, e.g. "Frieren.Beyond.Journeys.End"
    name_is_url_safe: bool
    slug_fields: str  # magnet parameters up to the season number: "&amp;aw_slug=frieren&amp;aw_s="
    episode_field: str  # "&amp;aw_e="
    size_tag: str  # </pubDate> to <description>: the size
    categories: str  # </description> to the enclosure's url: <category> elements
    magnet_attrs: str  # the enclosure's url to the magneturl value: length, type, category, size, peer attributes
    id_attrs: str  # the infohash value to the episode numbers: fixed attributes, tvdbid / imdb
    movie: bool

    def render(self, ep: EpisodeHit, languages: list[str]) -> Iterator[str]:
        """One ``<item>`` per language of ``ep`` (languages known to magnets, in their fixed order)."""
        out: list[str] = []
        self._episode(out, ep.season, ep.episode, ep.title_de or ep.title_en, ep.first_seen_at, ep.tvdb_season,
                      ep.tvdb_episode, [_language(self.site, name) for name in languages])
        return iter(out)

    def render_rows(self, rows: Iterable[EpisodeRow], out: list[str], want: int) -> None:
        """Appends the releases of episode after episode to ``out`` until it holds at least ``want``."""
        site, episode = self.site, self._episode
        for season_, episode_, title_de, title_en, languages, first_seen_at, tvdb_season, tvdb_episode in rows:
            episode(out, season_, episode_, title_de or title_en, first_seen_at, tvdb_season, tvdb_episode,
                    _known_languages(site, languages))
            if len(out) >= want:
                return

    def _episode(self, out: list[str], season_: int, episode_: int, description: str, first_seen_at: float,
                 tvdb_season: int | None, tvdb_episode: int | None, languages: Iterable[_Language]) -> None:
        if not (type(season_) is int and 0 <= season_ <= MAX_NUMBER
                and type(episode_) is int and 0 <= episode_ <= MAX_NUMBER):
            check_magnet_fields(self.slug, season_, episode_)  # raises on what a magnet cannot carry
        if self.movie:
            name, numbers = self.name, ""
        else:
            if tvdb_season is not None and tvdb_episode is not None:
                tag, numbers = _numbers(tvdb_season, tvdb_episode)
            else:
                tag, numbers = _numbers(season_, episode_)
            name = self.name + tag
        head = f"<pubDate>{_rfc822_second(int(first_seen_at))}{self.size_tag}{_text(description)}{self.categories}"
        key = f"{self.slug}|{season_}|{episode_}|"
        fields = f"{self.slug_fields}{season_}{self.episode_field}{episode_}"
        url_safe, magnet_attrs, id_attrs = self.name_is_url_safe, self.magnet_attrs, self.id_attrs
        for lang in languages:
            title = name + lang.title_tail
            digest = sha1(f"{key}{lang.name}".encode()).hexdigest()
            dn = title if url_safe else quote_magnet_value(title)
            magnet = f"magnet:?xt=urn:btih:{digest}&amp;dn={dn}{fields}{lang.magnet_tail}"
            out.append(
                f'<item><title>{title}</title><guid isPermaLink="false">{digest}</guid><link>{magnet}</link>'
                f'{head}{magnet}{magnet_attrs}{magnet}"/><torznab:attr name="infohash" value="{digest}'
                f"{id_attrs}{numbers}{lang.attrs}</item>"
            )


def title_releases(hit: TitleHit, category: int, movie: bool) -> TitleReleases:
    return _title_releases(hit.site, hit.slug, hit.display_title, hit.tvdb_id, hit.imdb_id,
                           hit.canon_year or hit.year, category, movie or hit.media_type == "movie")


@lru_cache(maxsize=4096)
def _title_releases(site: str, slug: str, display_title: str, tvdb_id: int | None, imdb_id: str | None,
                    year: int | None, category: int, movie: bool) -> TitleReleases:
    # the slug is the same in every magnet of the title: checked here, once (numbers per episode)
    check_magnet_fields(slug, 0, 0)
    words = title_words(display_title)
    if movie and year and words[-1] != str(year):
        words.append(str(year))
    name = _text(".".join(words))
    parent = _parent(category)
    if parent is None:
        categories = f"<category>{category}</category>"
        category_attrs = f'<torznab:attr name="category" value="{category}"/>'
    else:
        categories = f"<category>{category}</category><category>{parent}</category>"
        category_attrs = (f'<torznab:attr name="category" value="{category}"/>'
                          f'<torznab:attr name="category" value="{parent}"/>')
    id_attrs = ""
    if tvdb_id is not None:
        id_attrs += f'<torznab:attr name="tvdbid" value="{_attr(tvdb_id)}"/>'
    imdb = _digits((imdb_id or "").removeprefix("tt") or None)
    if imdb:
        id_attrs += f'<torznab:attr name="imdb" value="{imdb}"/>'
    prefix = site_prefix(site)
    size = estimate_size(movie)
    return TitleReleases(
        site=site, slug=slug, name=name, name_is_url_safe=quote_magnet_value(name) == name,
        slug_fields=f"&amp;{prefix}_slug={slug}&amp;{prefix}_s=", episode_field=f"&amp;{prefix}_e=",
        size_tag=f"</pubDate><size>{size}</size><description>",
        categories=f'</description>{categories}<enclosure url="',
        magnet_attrs=(f'" length="{size}" type="{ENCLOSURE_TYPE}"/>{category_attrs}'
                      f'<torznab:attr name="size" value="{size}"/><torznab:attr name="seeders" value="{SEEDERS}"/>'
                      f'<torznab:attr name="peers" value="{PEERS}"/><torznab:attr name="magneturl" value="'),
        id_attrs=('"/><torznab:attr name="downloadvolumefactor" value="0"/>'
                  f'<torznab:attr name="uploadvolumefactor" value="1"/>{id_attrs}'),
        movie=movie)


def known_languages(ep: EpisodeHit) -> list[str]:
    """The episode's languages a magnet can name, in their fixed order."""
    return [lang for lang in LANGUAGES if lang in ep.languages]
