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

from ...config import Settings
from ...projections.queries import EpisodeHit, EpisodeRow, TitleHit
from ...releases import (
    DEFAULT_NAMING,
    LANGUAGES,
    MAX_NUMBER,
    STRM_MODE,
    STRM_SUFFIX,
    ReleaseNaming,
    check_magnet_fields,
    estimate_size,
    naming_of,
    quote_magnet_value,
    site_prefix,
    title_words,
)
from .feed import ENCLOSURE_TYPE, _attr, _digits, _parent, _rfc822_second, _text

_SUBS = {"German Sub": "German", "English Sub": "English"}
# The `language` attribute names the audio as Sonarr/Radarr know languages (IsoLanguages.FindByName
# matches Language.Name: "German", not "German Dub"); a subbed release has the original audio, which
# Sonarr takes from the series when the indexer names none (AggregateLanguages).
AUDIO_LANGUAGE = {"German Dub": "German", "English Dub": "English"}


@dataclass(frozen=True, slots=True)
class ReleaseStyle:
    """What settings change in every release: naming, the fake peer counts, plain and/or STRM releases."""

    naming: ReleaseNaming = DEFAULT_NAMING
    seeders: int = 999
    peers: int = 999 + 787
    strm: tuple[bool, ...] = (False,)  # per language: a download release, a STRM release, or both


DEFAULT_STYLE = ReleaseStyle()
_STYLES: dict[int, tuple[Settings, ReleaseStyle]] = {}


def style_of(settings: Settings) -> ReleaseStyle:
    """TORZNAB_FAKE_SEEDERS/LEECHERS (peers = seeders + leechers), STRM_FILES_MODE, SOURCE_TAG, RELEASE_GROUP*."""
    known = _STYLES.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    style = _style(settings)
    _STYLES[id(settings)] = (settings, style)
    return style


def _style(settings: Settings) -> ReleaseStyle:
    strm = {"no": (False,), "only": (True,), "both": (False, True)}[settings.strm_files_mode]
    seeders = max(1, settings.torznab_fake_seeders)  # Sonarr drops releases with fewer than one seeder
    return ReleaseStyle(naming=naming_of(settings), seeders=seeders,
                        peers=seeders + settings.torznab_fake_leechers, strm=strm)


@dataclass(frozen=True, slots=True)
class _Language:
    """What every release of one site in one language (and kind: download or STRM) has in common."""

    name: str
    hash_tail: str  # after "slug|season|episode|" in the hashed string: "German Sub" or "German Sub|strm"
    title_tail: str  # ".WEB.H264.GER.SUB-ANIWORLD" (no resolution before the download), escaped for XML
    #                  (" [STRM]" for a STRM release)
    dn_tail: str  # the same, as the magnet's dn carries it
    magnet_tail: str  # "&amp;aw_lang=German+Sub&amp;aw_site=aniworld.to" (then "&amp;aw_mode=strm")
    attrs: str  # language and subs attributes


@cache
def _language(site: str, name: str, style: ReleaseStyle = DEFAULT_STYLE, strm: bool = False) -> _Language:
    subs = _SUBS.get(name)
    audio = AUDIO_LANGUAGE.get(name)
    attrs = f'<torznab:attr name="language" value="{audio}"/>' if audio else ""
    if subs:
        attrs += f'<torznab:attr name="subs" value="{_attr(subs)}"/>'
    prefix = site_prefix(site)
    tail = style.naming.tail(site, "", name) + (STRM_SUFFIX if strm else "")  # resolution unknown: none
    magnet_tail = f"&amp;{prefix}_lang={quote_magnet_value(name)}&amp;{prefix}_site={quote_magnet_value(site)}"
    if strm:
        magnet_tail += f"&amp;{prefix}_mode={STRM_MODE}"
    return _Language(
        name=name, hash_tail=f"{name}|{STRM_MODE}" if strm else name, title_tail=_text(tail),
        dn_tail=_text(quote_magnet_value(tail)), magnet_tail=magnet_tail, attrs=attrs)


def _variants(site: str, names: Iterable[str], style: ReleaseStyle) -> tuple[_Language, ...]:
    return tuple(_language(site, name, style, strm) for name in names for strm in style.strm)


@lru_cache(maxsize=256)
def _known_languages(site: str, languages: str, style: ReleaseStyle = DEFAULT_STYLE) -> tuple[_Language, ...]:
    """An episode's ``languages`` column ("German Dub,German Sub"): those a magnet can name, in their fixed order
    (each as the releases ``style`` offers: a download, a STRM file, or both)."""
    names = languages.split(",")
    return _variants(site, (lang for lang in LANGUAGES if lang in names), style)


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
    style: ReleaseStyle = DEFAULT_STYLE

    def render(self, ep: EpisodeHit, languages: list[str]) -> Iterator[str]:
        """One ``<item>`` per language of ``ep`` (languages known to magnets, in their fixed order)."""
        out: list[str] = []
        self._episode(out, ep.season, ep.episode, ep.title_de or ep.title_en, ep.first_seen_at, ep.tvdb_season,
                      ep.tvdb_episode, _variants(self.site, languages, self.style))
        return iter(out)

    def render_rows(self, rows: Iterable[EpisodeRow], out: list[str], want: int) -> None:
        """Appends the releases of episode after episode to ``out`` until it holds at least ``want``."""
        site, episode, style = self.site, self._episode, self.style
        for season_, episode_, title_de, title_en, languages, first_seen_at, tvdb_season, tvdb_episode in rows:
            episode(out, season_, episode_, title_de or title_en, first_seen_at, tvdb_season, tvdb_episode,
                    _known_languages(site, languages, style))
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
        magnet_attrs, id_attrs = self.magnet_attrs, self.id_attrs
        # quote_plus works character by character: the name's part and the tail's part join
        dn_name = name if self.name_is_url_safe else _text(quote_magnet_value(name))
        for lang in languages:
            title = name + lang.title_tail
            digest = sha1(f"{key}{lang.hash_tail}".encode()).hexdigest()
            dn = dn_name + lang.dn_tail
            magnet = f"magnet:?xt=urn:btih:{digest}&amp;dn={dn}{fields}{lang.magnet_tail}"
            out.append(
                f'<item><title>{title}</title><guid isPermaLink="false">{digest}</guid><link>{magnet}</link>'
                f'{head}{magnet}{magnet_attrs}{magnet}"/><torznab:attr name="infohash" value="{digest}'
                f"{id_attrs}{numbers}{lang.attrs}</item>"
            )


def title_releases(hit: TitleHit, category: int, movie: bool, style: ReleaseStyle = DEFAULT_STYLE) -> TitleReleases:
    return _title_releases(hit.site, hit.slug, hit.display_title, hit.tvdb_id, hit.imdb_id,
                           hit.canon_year or hit.year, category, movie or hit.media_type == "movie", style)


@lru_cache(maxsize=4096)
def _title_releases(site: str, slug: str, display_title: str, tvdb_id: int | None, imdb_id: str | None,
                    year: int | None, category: int, movie: bool, style: ReleaseStyle = DEFAULT_STYLE
                    ) -> TitleReleases:
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
                      f'<torznab:attr name="size" value="{size}"/>'
                      f'<torznab:attr name="seeders" value="{style.seeders}"/>'
                      f'<torznab:attr name="peers" value="{style.peers}"/><torznab:attr name="magneturl" value="'),
        id_attrs=('"/><torznab:attr name="downloadvolumefactor" value="0"/>'
                  f'<torznab:attr name="uploadvolumefactor" value="1"/>{id_attrs}'),
        movie=movie, style=style)


def known_languages(ep: EpisodeHit) -> list[str]:
    """The episode's languages a magnet can name, in their fixed order."""
    return [lang for lang in LANGUAGES if lang in ep.languages]
