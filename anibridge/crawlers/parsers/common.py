"""Pieces every site parser shares: result types, the one exception, HTML loading, languages."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

import orjson
from parsel import Selector, SelectorList
from pydantic import BaseModel

from anibridge.events.types import MediaType

GERMAN_DUB = "German Dub"
GERMAN_SUB = "German Sub"
ENGLISH_SUB = "English Sub"
ENGLISH_DUB = "English Dub"
LANGUAGE_ORDER = (GERMAN_DUB, GERMAN_SUB, ENGLISH_SUB, ENGLISH_DUB)
# AniWorld data-lang-key and s.to data-language-id use the same numbering
LANGUAGE_BY_KEY = {"1": GERMAN_DUB, "2": ENGLISH_SUB, "3": GERMAN_SUB, "4": ENGLISH_DUB}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d|2100)(?!\d)")


class ParseError(Exception):
    """The page lacks something the parser needs; the message names what is missing."""

    def __init__(self, what_missing: str) -> None:
        super().__init__(what_missing)
        self.what_missing = what_missing


@dataclasses.dataclass(frozen=True, slots=True)
class ListedTitle:
    slug: str
    title: str
    alt_titles: list[str]
    path: str
    media_type: MediaType = "series"


@dataclasses.dataclass(frozen=True, slots=True)
class HosterLink:
    language: str
    host: str
    redirect_path: str  # site path (/redirect/<id>) or absolute URL of the player/embed


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesPage:
    title: str
    description: str
    year: int | None
    season_paths: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # 0 = films / specials
    has_films: bool = False
    # the season whose episode list this page itself shows (s.to v2: /serie/<slug> is season 1's page)
    shown_season: int | None = None


def content_hash(obj: Any) -> str:
    """Stable digest for change detection: same content, same hash, whatever the key order."""
    # dataclasses pass through to _jsonable: orjson would keep their field order despite OPT_SORT_KEYS
    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
    data = orjson.dumps(obj, default=_jsonable, option=options)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"content_hash cannot serialize {type(obj).__name__}")


def load_html(html: str | bytes, what: str) -> Selector:
    """A parsel selector for any input; only an empty or unparseable page raises ``ParseError``."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    # lxml refuses NUL/control characters and lone surrogates: scrub them instead of failing
    html = _CONTROL.sub(" ", html.encode("utf-8", errors="replace").decode("utf-8"))
    if not html.strip():
        raise ParseError(f"{what} is empty")
    try:
        sel = Selector(text=html)
    except Exception as exc:  # lxml has many error types; any of them means "not HTML"
        raise ParseError(f"{what} is not parseable HTML ({type(exc).__name__})") from exc
    return sel


def clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def text_of(sel: Selector | SelectorList[Selector], query: str | None = None) -> str:
    """Whitespace-normalized text of the nodes matching a CSS query (or of ``sel`` itself)."""
    nodes = sel.css(query) if query else sel
    return clean(" ".join(nodes.xpath(".//text()").getall()))


def first_year(text: str) -> int | None:
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def dedupe(items: list[str], *, casefold: bool = False) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.casefold() if casefold else item
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def split_alt_titles(raw: str | None) -> list[str]:
    return dedupe([clean(part) for part in (raw or "").split(",")], casefold=True)


def order_languages(languages: list[str]) -> list[str]:
    known = [lang for lang in LANGUAGE_ORDER if lang in languages]
    return known + [lang for lang in dedupe(languages) if lang not in LANGUAGE_ORDER]


def language_from_label(label: str) -> str | None:
    """'Deutsch' -> German Dub, 'Englisch' -> English Dub, '... Untertitel'/'Sub' -> the subbed kind."""
    text = label.casefold()
    german = "deutsch" in text or "german" in text
    english = "englisch" in text or "english" in text
    if "untertitel" in text or "sub" in text:
        # "Englisch mit deutschen Untertiteln" has German subtitles
        if german or not english:
            return GERMAN_SUB
        return ENGLISH_SUB
    if german:
        return GERMAN_DUB
    if english:
        return ENGLISH_DUB
    return None


_HOST_NAMES = {
    "voe": "VOE", "filemoon": "Filemoon", "streamtape": "Streamtape", "vidmoly": "Vidmoly",
    "dood": "Doodstream", "doodstream": "Doodstream", "d0000d": "Doodstream", "loadx": "LoadX",
    "luluvdo": "Luluvdo", "lulustream": "Luluvdo", "vidoza": "Vidoza", "gxplayer": "GXPlayer",
}


def host_name(name_or_url: str) -> str:
    """Canonical hoster spelling ('voe' -> 'VOE'; 'https://filemoon.sx/e/x' -> 'Filemoon')."""
    raw = clean(name_or_url)
    if "/" in raw or "." in raw:
        try:
            netloc = urlsplit(raw if "//" in raw else "//" + raw).hostname or ""
        except ValueError:  # e.g. a broken IPv6 literal
            netloc = ""
        labels = [part for part in netloc.split(".") if part and part != "www"]
        raw = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "")
    key = raw.casefold()
    for prefix, canonical in _HOST_NAMES.items():
        if key.startswith(prefix):
            return canonical
    return raw[:1].upper() + raw[1:] if raw else ""


_SMALL_INT = re.compile(r"\s*(\d{1,6})\s*")


def small_int(text: str | None) -> int | None:
    """A non-negative int of at most six digits, else None (huge digit runs would be a DoS)."""
    match = _SMALL_INT.fullmatch(text or "")
    return int(match.group(1)) if match else None


def slug_words(slug: str) -> str:
    """'the-dark-knight' -> 'The Dark Knight' (a placeholder title until the page is read)."""
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", slug) if word)
