"""Title normalization shared by search, canonical matching and release naming."""

from __future__ import annotations

import re
import unicodedata

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize(title: str) -> str:
    """Lower-case, accent- and punctuation-insensitive form: 'Shingeki no Kyojin: Ä!' -> 'shingeki no kyojin ae'.

    Umlauts fold to their two-letter spelling (as Germans type them without the key); other
    accents are dropped; '&' reads as 'and'.
    """
    text = title.replace("&", " and ")
    if text.isascii():  # most titles: nothing to fold, skip the Unicode work
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKD", text.translate(_GERMAN))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return _NON_WORD.sub(" ", text).strip()


def tokens(title: str) -> list[str]:
    return normalize(title).split()
