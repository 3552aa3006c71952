"""Magnet links and release titles, byte-compatible with earlier AniBridge releases.

A magnet names one episode (or film) in one language on one site; its btih is the SHA-1 of
``slug|season|episode|language`` (plus ``|mode`` when a mode is set). Sonarr keeps these
magnets in its history and tracks downloads by that hash, so the format must never change:
parameter order, ``quote_plus`` encoding (spaces become ``+``) and the literal
``xt=urn:btih:`` all match what existing installs emitted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote_plus

from anibridge.config import HOSTS, SITES

if TYPE_CHECKING:
    from anibridge.config import Settings

LANGUAGES = ("German Dub", "German Sub", "English Sub", "English Dub")
MAX_NUMBER = 10_000

_PREFIX = {"aniworld.to": "aw", "megakino": "aw", "s.to": "sto"}
# Magnets from releases before `<p>_site` existed only carry the prefix; `aw` then meant AniWorld.
_DEFAULT_SITE = {"aw": "aniworld.to", "sto": "s.to"}
_GROUP = {"aniworld.to": "ANIWORLD", "s.to": "STO", "megakino": "MEGAKINO"}
# s.to's other host names name the same site (its id stays "s.to")
_SITE_NAMES = {"serienstream.to": "s.to", "serienstream.cx": "s.to"}
_LANG_TAG = {"German Dub": "GER", "German Sub": "GER.SUB", "English Sub": "ENG.SUB", "English Dub": "ENG"}
_HOST_BY_LOWER = {h.lower(): h for h in HOSTS}
# Appended to the release title of a STRM release (a ``.strm`` file instead of a download), as the
# earlier AniBridge did: release profiles and custom formats match on it.
STRM_SUFFIX = " [STRM]"
STRM_MODE = "strm"


@dataclass(frozen=True, slots=True)
class ReleaseNaming:
    """The configurable parts of a release name: ``SOURCE_TAG`` and the ``-GROUP`` per site."""

    source_tag: str = "WEB"
    groups: tuple[tuple[str, str], ...] = tuple(_GROUP.items())

    def group(self, site: str) -> str:
        for name, group in self.groups:
            if name == site:
                return group
        raise ValueError(f"unknown site {site!r}")

    def tail(self, site: str, quality: str, language: str) -> str:
        """Everything after the episode tag: ``.WEB.H264.GER-ANIWORLD``, ``.720p.WEB.H264.GER-ANIWORLD`` once
        the resolution is known (no ``-`` when the group is empty).

        The resolution only when it is known (a downloaded file): a claim of 1080p for a 720p stream makes
        Sonarr import it as 720p and then grab the same "1080p" release again as an upgrade, forever.
        """
        group = self.group(site)
        head = f".{quality}" if quality else ""
        return f"{head}.{self.source_tag}.H264.{_LANG_TAG[language]}" + (f"-{group}" if group else "")


DEFAULT_NAMING = ReleaseNaming()


def naming_of(settings: Settings) -> ReleaseNaming:
    """The release naming ``settings`` ask for (SOURCE_TAG, RELEASE_GROUP*)."""
    return ReleaseNaming(source_tag=settings.source_tag.strip() or "WEB",
                         groups=tuple((site, settings.release_group_of(site)) for site in SITES))

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,199}")
_MODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_NUMBER = re.compile(r"[0-9]{1,5}")
_BTIH = re.compile(r"[0-9a-fA-F]{40}")
_MAX_URI = 4096

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")


class MagnetError(ValueError):
    """A magnet link is not one AniBridge issued (or its fields are out of range)."""


@dataclass(frozen=True, slots=True)
class MagnetRef:
    site: str
    slug: str
    season: int
    episode: int
    language: str
    provider: str | None
    mode: str | None
    info_hash: str
    name: str


def site_prefix(site: str) -> str:
    try:
        return _PREFIX[site]
    except KeyError:
        raise MagnetError(f"unknown site {site!r}; expected one of {', '.join(SITES)}") from None


def release_group(site: str) -> str:
    """The ``-GROUP`` suffix of a site's release names."""
    if site not in _GROUP:
        raise ValueError(f"unknown site {site!r}")
    return _GROUP[site]


def language_tag(language: str) -> str:
    """The language part of a release name (``GER``, ``GER.SUB``, ...)."""
    _check_language(language)
    return _LANG_TAG[language]


def check_magnet_fields(slug: str, season: int, episode: int) -> None:
    """What ``build_magnet`` refuses, checked on its own (raises MagnetError)."""
    _check_slug(slug)
    _check_number("season", season)
    _check_number("episode", episode)


def quote_magnet_value(value: str) -> str:
    """A magnet parameter value, encoded as ``build_magnet`` encodes it."""
    return _quote(value)


def info_hash(slug: str, season: int, episode: int, language: str, mode: str | None = None) -> str:
    key = f"{slug}|{season}|{episode}|{language}"
    if mode:
        key += f"|{mode}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def build_magnet(
    site: str,
    slug: str,
    season: int,
    episode: int,
    language: str,
    release_title: str,
    provider: str | None = None,
    mode: str | None = None,
) -> str:
    """Magnet for one episode; parameter order and quoting follow the earlier AniBridge exactly."""
    prefix = site_prefix(site)
    _check_slug(slug)
    _check_number("season", season)
    _check_number("episode", episode)
    _check_language(language)
    host = _canonical_host(provider) if provider else None
    mode_norm = _normalize_mode(mode)
    params = [
        ("dn", release_title),
        (f"{prefix}_slug", slug),
        (f"{prefix}_s", str(season)),
        (f"{prefix}_e", str(episode)),
        (f"{prefix}_lang", language),
        (f"{prefix}_site", site),
    ]
    if mode_norm:
        params.append((f"{prefix}_mode", mode_norm))
    if host:
        params.append((f"{prefix}_provider", host))
    btih = info_hash(slug, season, episode, language, mode_norm)
    return f"magnet:?xt=urn:btih:{btih}&" + "&".join(f"{k}={_quote(v)}" for k, v in params)


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def _quote(value: str) -> str:
    """``quote_plus``, skipped for text it would leave unchanged (slugs, dotted release names)."""
    return value if _URL_SAFE.fullmatch(value) else quote_plus(value)


def parse_magnet(uri: str) -> MagnetRef:
    """Parse and fully validate a magnet; accepts both `+` and `%20` for spaces."""
    if not isinstance(uri, str) or uri[:8].lower() != "magnet:?":
        raise MagnetError("not a magnet link (must start with 'magnet:?')")
    if len(uri) > _MAX_URI:
        raise MagnetError(f"magnet link longer than {_MAX_URI} characters")
    fields = _query_fields(uri[8:])
    prefix = _detect_prefix(fields)
    btih = _btih(fields.get("xt"))

    def get(name: str) -> str | None:
        return fields.get(f"{prefix}_{name}")

    site = get("site") or _DEFAULT_SITE[prefix]
    site = _SITE_NAMES.get(site.lower(), site)
    if site not in _PREFIX:
        raise MagnetError(f"unknown site {site[:60]!r}; expected one of {', '.join(SITES)}")
    if _PREFIX[site] != prefix:
        raise MagnetError(f"site {site!r} does not use the '{prefix}_' parameter prefix")
    slug = _require(get("slug"), f"{prefix}_slug")
    _check_slug(slug)
    season = _parse_number("season", _require(get("s"), f"{prefix}_s"))
    episode = _parse_number("episode", _require(get("e"), f"{prefix}_e"))
    language = _require(get("lang"), f"{prefix}_lang")
    _check_language(language)
    raw_provider = get("provider")
    provider = _canonical_host(raw_provider) if raw_provider else None
    mode = _normalize_mode(get("mode"))

    expected = info_hash(slug, season, episode, language, mode)
    if btih.lower() != expected:
        raise MagnetError("btih does not match the magnet's slug/season/episode/language")
    return MagnetRef(site, slug, season, episode, language, provider, mode, expected, fields.get("dn") or "")


def release_title(
    series_title: str,
    season: int | None,
    episode: int | None,
    language: str,
    site: str,
    height: int | None = None,
    absolute: int | None = None,
    movie_year: int | None = None,
    is_movie: bool = False,
    naming: ReleaseNaming = DEFAULT_NAMING,
    strm: bool = False,
) -> str:
    """Scene-style name Sonarr/Radarr parse, e.g. ``Series.Title.S01E02.1080p.WEB.H264.GER-ANIWORLD``.

    `absolute` is only used when season/episode are unknown: Sonarr reads a bare absolute number
    after the title, but not both forms together without a ``[SubGroup]`` tag.
    """
    if site not in _GROUP:
        raise ValueError(f"unknown site {site!r}")
    _check_language(language)
    words = list(_title_words_cached(series_title))
    if is_movie:
        if movie_year and (not words or words[-1] != str(movie_year)):
            words.append(str(movie_year))
    elif season is not None and episode is not None:
        words.append(f"S{season:02d}E{episode:02d}")
    elif absolute is not None:
        words.append(f"{absolute:03d}")
    return ".".join(words) + naming.tail(site, quality_tag(height), language) + (STRM_SUFFIX if strm else "")


@lru_cache(maxsize=4096)
def _title_words_cached(title: str) -> tuple[str, ...]:
    # A search renders dozens of releases of the same few titles.
    return tuple(title_words(title))


def title_words(title: str) -> list[str]:
    """Title words for a release name: umlauts folded, accents and punctuation dropped, case kept."""
    text = _APOSTROPHES.sub("", title.translate(_FOLD)).replace("&", " and ")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    words = _ASCII_WORD.findall(text)
    if not words:
        # Titles in non-Latin scripts only: keep their letters rather than produce an empty name.
        words = [w for w in re.split(r"[\W_]+", text) if w]
    return words or ["Unknown"]


def quality_tag(height: int | None) -> str:
    """The resolution tag of a video ``height``; empty when the height is unknown."""
    if not height:
        return ""
    for floor, tag in ((2160, "2160p"), (1440, "1440p"), (1080, "1080p"), (720, "720p"), (576, "576p")):
        if height >= floor:
            return tag
    return "480p"


def estimate_size(is_movie: bool, height: int | None = None) -> int:
    """Plausible byte size for Sonarr/Radarr size filters: ~350 MB per 1080p episode, ~1.5 GB per film."""
    base = 1_500 * 1024 * 1024 if is_movie else 350 * 1024 * 1024
    factor = {"2160p": 4.0, "1440p": 1.8, "1080p": 1.0, "720p": 0.55, "576p": 0.35, "480p": 0.3}
    return max(1, int(base * factor.get(quality_tag(height), 1.0)))


def _query_fields(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        raise MagnetError("magnet link has too many parameters") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields and key != "tr":
            raise MagnetError(f"magnet parameter {key!r} appears more than once")
        fields[key] = value
    return fields


def _detect_prefix(fields: dict[str, str]) -> str:
    found = {key.split("_", 1)[0] for key in fields if key.startswith(("aw_", "sto_"))}
    if len(found) > 1:
        raise MagnetError("magnet mixes 'aw_' and 'sto_' parameters")
    if not found:
        raise MagnetError("magnet has no AniBridge parameters (aw_slug or sto_slug missing)")
    return found.pop()


def _btih(xt: str | None) -> str:
    if not xt:
        raise MagnetError("magnet has no xt=urn:btih: parameter")
    if not xt.lower().startswith("urn:btih:"):
        raise MagnetError("magnet xt is not a urn:btih: topic")
    btih = xt[9:]
    if not _BTIH.fullmatch(btih):
        raise MagnetError("magnet btih is not 40 hex digits")
    return btih


def _require(value: str | None, name: str) -> str:
    if not value:
        raise MagnetError(f"magnet is missing {name}")
    return value


def _check_slug(slug: str) -> None:
    if not _SLUG.fullmatch(slug) or ".." in slug:
        raise MagnetError(f"invalid slug {slug[:60]!r}: only lowercase letters, digits, '.', '_' and '-'")


def _check_number(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
        raise MagnetError(f"{name} must be an integer between 0 and {MAX_NUMBER}, got {value!r}")


def _parse_number(name: str, raw: str) -> int:
    if not _NUMBER.fullmatch(raw):
        raise MagnetError(f"{name} must be a non-negative integer, got {raw[:20]!r}")
    value = int(raw)
    _check_number(name, value)
    return value


def _check_language(language: str) -> None:
    if language not in _LANG_TAG:
        raise MagnetError(f"unknown language {language[:40]!r}; expected one of {', '.join(LANGUAGES)}")


def _canonical_host(provider: str) -> str:
    host = _HOST_BY_LOWER.get(provider.strip().lower())
    if host is None:
        raise MagnetError(f"unknown provider {provider[:40]!r}; expected one of {', '.join(HOSTS)}")
    return host


def _normalize_mode(mode: str | None) -> str | None:
    norm = mode.strip().lower() if mode else ""
    if not norm:
        return None
    if not _MODE.fullmatch(norm):
        raise MagnetError(f"invalid mode {mode[:20]!r}")
    return norm
