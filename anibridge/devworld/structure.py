"""Season/episode shape of a title, drawn from a per-title RNG with a realistic spread."""

from __future__ import annotations

import random
from functools import lru_cache

from anibridge.devworld.model import HOSTERS, Structure
from anibridge.devworld.names import GENRES
from anibridge.devworld.rng import rng

# (low, high, weight) buckets
_SEASONS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "aniworld": ((1, 1, 45), (2, 2, 20), (3, 3, 12), (4, 4, 7), (5, 5, 5), (6, 10, 7), (11, 20, 3), (21, 30, 1)),
    "sto": ((1, 1, 30), (2, 2, 18), (3, 3, 14), (4, 6, 18), (7, 12, 14), (13, 30, 6)),
    "megakino": ((1, 1, 1),),  # a Megakino serial page is one season ("... - 1. Staffel")
}
_EPISODES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "aniworld": ((12, 13, 35), (24, 26, 25), (10, 11, 10), (1, 9, 8), (14, 23, 12), (27, 60, 8), (61, 300, 2)),
    "sto": ((10, 13, 30), (20, 24, 35), (6, 9, 15), (14, 19, 12), (1, 5, 5), (25, 50, 3)),
    "megakino": ((6, 10, 1),),
}
_LANGUAGES: dict[str, tuple[tuple[tuple[int, ...], int], ...]] = {
    "aniworld": (((3,), 30), ((1, 3), 40), ((1,), 10), ((2, 3), 8), ((1, 2, 3), 7), ((1, 3, 4), 5)),
    "sto": (((1,), 60), ((1, 4), 20), ((4,), 5), ((1, 3), 10), ((1, 3, 4), 5)),
    "megakino": (((1,), 1),),  # German only ("Stream Deutsch")
}
_ONGOING = {"aniworld": 0.15, "sto": 0.08, "megakino": 0.05}
EPOCH_YEAR = 2025


def _bucket(r: random.Random, buckets: tuple[tuple[int, int, int], ...]) -> int:
    low, high, _ = r.choices(buckets, weights=[b[2] for b in buckets])[0]
    return r.randint(low, high)


def natural_counts(r: random.Random, site: str, kind: str) -> list[int]:
    """Full episode counts of the regular seasons, before any size knob."""
    if kind == "film":
        return []
    if site == "aniworld" and r.random() < 0.03:  # long-runner: one huge season
        return [r.randint(150, 1100)] + [r.randint(12, 26) for _ in range(r.choice((0, 0, 1, 2)))]
    return [_bucket(r, _EPISODES[site]) for _ in range(_bucket(r, _SEASONS[site]))]


@lru_cache(maxsize=8)
def natural_mean(site: str, kind: str) -> float:
    samples = [sum(natural_counts(rng("calibrate", site, i), site, kind)) for i in range(4000)]
    return sum(samples) / len(samples)


def make_structure(
    seed: int, site: str, uid: int, kind: str, episodes_per_title: float | None, added_day: int
) -> Structure:
    r = rng(seed, site, uid, "structure")
    counts = natural_counts(r, site, kind)
    if episodes_per_title and counts:
        factor = episodes_per_title / natural_mean(site, kind)
        counts = [max(1, round(c * factor)) for c in counts]
    extra = 0
    if site == "aniworld" and r.random() < 0.12:
        extra = r.choice((1, 1, 1, 2, 2, 3, 4, 5))
    elif site == "sto" and r.random() < 0.15:
        extra = r.randint(1, 6)
    ongoing = bool(counts) and counts[-1] > 1 and r.random() < _ONGOING[site]
    aired0 = r.randint(max(1, counts[-1] // 3), counts[-1] - 1) if ongoing else (counts[-1] if counts else 0)
    if added_day > 0:
        year = EPOCH_YEAR
    elif ongoing:
        year = r.randint(EPOCH_YEAR - 3, EPOCH_YEAR)
    else:
        year = min(EPOCH_YEAR, int(r.triangular(1965 if kind == "film" else 1975, EPOCH_YEAR + 1, 2019)))
    languages = r.choices([b[0] for b in _LANGUAGES[site]], weights=[b[1] for b in _LANGUAGES[site]])[0]
    picked = set(r.sample(HOSTERS, r.randint(2, 4 if site == "megakino" else 6)))
    return Structure(
        year=year,
        full=(extra, *counts),
        ongoing=ongoing,
        aired0=aired0,
        phase=r.randrange(7),
        languages=languages,
        hosters=tuple(h for h in HOSTERS if h in picked),
        genres=tuple(r.sample(GENRES, r.randint(1, 4))),
    )


def aired_seasons(structure: Structure, day: int) -> dict[int, int]:
    """Season -> aired episode count on ``day`` (season 0 only when it has entries)."""
    seasons = {n: count for n, count in enumerate(structure.full) if n > 0}
    if structure.full[0]:
        seasons[0] = structure.full[0]
    if structure.ongoing:
        last = len(structure.full) - 1
        seasons[last] = min(structure.full[last], structure.aired0 + airings(structure.phase, day))
    return seasons


def airings(phase: int, day: int) -> int:
    """Weekly airings in days 1..day for a title airing on days where (day + phase) % 7 == 0."""
    return (max(0, day) + phase) // 7
