"""Release ``<item>`` elements of search results, rendered fast.

A search answers with dozens of releases of the same few titles, so everything a title's releases
share (release-name prefix, category and id attributes, magnet site fields) is worked out once per
title and everything a language shares once per language; a release then costs one SHA-1 and one
string format. The output is byte for byte what ``torznab_xml.render_item`` makes of the same
release (``tests/test_torznab_releases.py`` holds the two side by side).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from ..projections.queries import EpisodeHit, TitleHit
from ..releases import (
    LANGUAGES,
    check_magnet_fields,
    estimate_size,
    language_tag,
    quality_tag,
    quote_magnet_value,
    release_group,
    site_prefix,
    title_words,
)
from .torznab_xml import ENCLOSURE_TYPE, _attr, _digits, _parent, _rfc822, _text

SEEDERS = PEERS = 10
_SUBS = {"German Sub": "German", "English Sub": "English"}


@dataclass(frozen=True, slots=True)
class _Language:
    name: str
    tag: str
    magnet_value: str
    attrs: str  # language and subs attributes


@cache
def _language(name: str) -> _Language:
    subs = _SUBS.get(name)
    attrs = f'<torznab:attr name="language" value="{_attr(name)}"/>'
    if subs:
        attrs += f'<torznab:attr name="subs" value="{_attr(subs)}"/>'
    return _Language(name, language_tag(name), quote_magnet_value(name), attrs)


@dataclass(frozen=True, slots=True)
class TitleReleases:
    """What every release of one title has in common, pre-rendered."""

    slug: str
    name: str  # release-name words up to the episode tag, e.g. "Frieren.Beyond.Journeys.End"
    name_is_url_safe: bool
    suffix: str  # "-ANIWORLD"
    magnet_site: str  # "&amp;aw_site=aniworld.to" etc., XML-escaped
    prefix: str  # magnet parameter prefix, "aw" or "sto"
    size: int
    categories: str  # <category> elements
    category_attrs: str
    id_attrs: str  # tvdbid / imdb attributes
    movie: bool

    def render(self, ep: EpisodeHit, languages: list[str]) -> Iterator[str]:
        """One ``<item>`` per language of ``ep`` (languages known to magnets, in their fixed order)."""
        season_, episode_ = ep.season, ep.episode
        check_magnet_fields(self.slug, season_, episode_)
        if ep.tvdb_season is not None and ep.tvdb_episode is not None:
            season, episode = ep.tvdb_season, ep.tvdb_episode
        else:
            season, episode = season_, episode_
        if self.movie:
            name, numbers = self.name, ""
        else:
            name = f"{self.name}.S{season:02d}E{episode:02d}"
            numbers = (f'<torznab:attr name="season" value="{season}"/>'
                       f'<torznab:attr name="episode" value="{episode}"/>')
        head = f"<pubDate>{_rfc822(ep.first_seen_at)}</pubDate><size>{self.size}</size>" \
               f"<description>{_text(ep.title_de or ep.title_en)}</description>{self.categories}"
        p = self.prefix
        slug_fields = f"&amp;{p}_slug={self.slug}&amp;{p}_s={season_}&amp;{p}_e={episode_}"
        for language in languages:
            lang = _language(language)
            title = f"{name}.{_QUALITY}.WEB.H264.{lang.tag}{self.suffix}"
            digest = hashlib.sha1(f"{self.slug}|{season_}|{episode_}|{language}".encode()).hexdigest()
            dn = title if self.name_is_url_safe else quote_magnet_value(title)
            magnet = (f"magnet:?xt=urn:btih:{digest}&amp;dn={dn}{slug_fields}"
                      f"&amp;{p}_lang={lang.magnet_value}{self.magnet_site}")
            yield (
                f'<item><title>{title}</title><guid isPermaLink="false">{digest}</guid><link>{magnet}</link>'
                f'{head}<enclosure url="{magnet}" length="{self.size}" type="{ENCLOSURE_TYPE}"/>'
                f'{self.category_attrs}<torznab:attr name="size" value="{self.size}"/>'
                f'<torznab:attr name="seeders" value="{SEEDERS}"/><torznab:attr name="peers" value="{PEERS}"/>'
                f'<torznab:attr name="magneturl" value="{magnet}"/><torznab:attr name="infohash" value="{digest}"/>'
                '<torznab:attr name="downloadvolumefactor" value="0"/>'
                '<torznab:attr name="uploadvolumefactor" value="1"/>'
                f"{self.id_attrs}{numbers}{lang.attrs}</item>"
            )


_QUALITY = quality_tag(None)


def title_releases(hit: TitleHit, category: int, movie: bool) -> TitleReleases:
    return _title_releases(hit.site, hit.slug, hit.display_title, hit.tvdb_id, hit.imdb_id,
                           hit.canon_year or hit.year, category, movie or hit.media_type == "movie")


@lru_cache(maxsize=4096)
def _title_releases(site: str, slug: str, display_title: str, tvdb_id: int | None, imdb_id: str | None,
                    year: int | None, category: int, movie: bool) -> TitleReleases:
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
    return TitleReleases(
        slug=slug, name=name, name_is_url_safe=quote_magnet_value(name) == name, suffix=f"-{release_group(site)}",
        magnet_site=f"&amp;{prefix}_site={quote_magnet_value(site)}", prefix=prefix, size=estimate_size(movie),
        categories=categories, category_attrs=category_attrs, id_attrs=id_attrs, movie=movie)


def known_languages(ep: EpisodeHit) -> list[str]:
    """The episode's languages a magnet can name, in their fixed order."""
    return [lang for lang in LANGUAGES if lang in ep.languages]
