"""Deterministic, process-independent random sources keyed by parts of an identity."""

from __future__ import annotations

import random
import re
import unicodedata

_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def rng(*parts: object) -> random.Random:
    """A Random seeded from the joined parts (str seeding hashes with sha512: stable across runs)."""
    return random.Random("\x1f".join(map(str, parts)))


def slugify(title: str) -> str:
    text = title.lower().translate(_GERMAN)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SLUG_DROP.sub("-", text).strip("-") or "titel"


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
