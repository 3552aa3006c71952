"""Title normalization shared by search, canonical matching and release naming."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_NON_WORD = re.compile(r"[^0-9a-z]+")
# Words up to this long have their normalized form cached (titles share most of their words).
_CACHED_WORD_CHARS = 40


class _DropCombining(dict[int, str | None]):
    """``str.translate`` table removing combining marks; filled per code point on first sight."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        kept = None if unicodedata.combining(ch) else ch
        if len(self) < 4096:  # bounded: text may name any code point
            self[code] = kept
        return kept


_DROP_COMBINING = _DropCombining()


def normalize(title: str) -> str:
    """Lower-case, accent- and punctuation-insensitive form: 'Shingeki no Kyojin: Ä!' -> 'shingeki no kyojin ae'.

    Umlauts fold to their two-letter spelling (as Germans type them without the key); other
    accents are dropped; '&' reads as 'and'.
    """
    # Word by word gives the same: whitespace always ends up separating words, and nothing else
    # reaches across it (combining marks follow their base letter, folding is per character).
    return " ".join([norm for word in title.split() if (norm := _normalize_word(word))])


def _normalize_word(word: str) -> str:
    if len(word) <= _CACHED_WORD_CHARS:
        return _normalize_cached(word)
    return _normalize_text(word)


def _normalize_text(title: str) -> str:
    text = title.replace("&", " and ")
    if text.isascii():  # most titles: nothing to fold, skip the Unicode work
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKD", text.translate(_GERMAN)).translate(_DROP_COMBINING).lower()
    return _NON_WORD.sub(" ", text).strip()


_normalize_cached = lru_cache(maxsize=16384)(_normalize_text)


def tokens(title: str) -> list[str]:
    return normalize(title).split()
