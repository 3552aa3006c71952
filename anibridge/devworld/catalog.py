"""A site's title list over time: base names, stable slugs, and day-by-day additions/removals/renames."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from anibridge.devworld.model import Entry
from anibridge.devworld.names import Names, anime_names, western_names
from anibridge.devworld.rng import rng, slugify

_SUFFIXES = ((" Kai", " Kai", " Kai"), (": Shippuuden", ": Next Generation", ": Die nächste Generation"),
             (" II", " II", " II"), (" (2011)", " (2011)", " (2011)"), (" Zoku", " Season 2", " Staffel 2"))


@dataclass(frozen=True, slots=True)
class Base:
    """Day-0 identity of a title. ``parent``/``variant`` mark deliberate near-duplicates."""

    uid: int
    kind: str
    names: Names
    title: str
    alts: tuple[str, ...]
    parent: int | None = None
    variant: str = ""


@dataclass(slots=True)
class DayState:
    alive: frozenset[int]
    added: tuple[int, ...]
    removed: tuple[int, ...]
    renamed: tuple[int, ...]
    renames: dict[int, tuple[int, ...]] = field(default_factory=dict)  # uid -> days it was renamed


@dataclass(frozen=True, slots=True)
class View:
    entries: tuple[Entry, ...]  # alphabet order
    by_slug: dict[str, Entry]
    by_uid: dict[int, Entry]


class Catalogue:
    def __init__(self, seed: int, site: str, size: int) -> None:
        self.seed, self.site, self.size = seed, site, size
        self.add_per_day = max(1, size // 200)
        self.remove_per_day = max(1, size // 500)
        self.rename_per_day = max(1, size // 300)
        self._bases: dict[int, Base] = {}
        self._slugs: list[str] = []
        self._taken: set[str] = set()
        self._days: list[DayState] = []
        self._views: dict[int, View] = {}
        self._lock = threading.RLock()

    def uid_limit(self, day: int) -> int:
        """Number of uids ever created up to ``day`` (removed ones included)."""
        return self.size + max(0, day) * self.add_per_day

    def added_day(self, uid: int) -> int:
        return 0 if uid < self.size else (uid - self.size) // self.add_per_day + 1

    def base(self, uid: int) -> Base:
        cached = self._bases.get(uid)
        if cached is None:
            cached = self._bases[uid] = self._make_base(uid)
        return cached

    def _make_base(self, uid: int) -> Base:
        r = rng(self.seed, self.site, uid, "names")
        kind = "series"
        if self.site == "megakino":
            kind = "serial" if r.random() < 0.15 else "film"
        parent: int | None = None
        variant = ""
        if uid >= 8 and r.random() < 0.05:
            parent = r.randrange(uid)
            variant = r.choice(("same", "same", "bang", "suffix", "film"))
            names = _vary(self.base(parent).names, variant, r)
        elif self.site == "aniworld":
            names = anime_names(r)
        else:
            names = western_names(r)
        title, alts = self._display(names, r)
        return Base(uid, kind, names, title, alts, parent, variant)

    def _display(self, names: Names, r: random.Random) -> tuple[str, tuple[str, ...]]:
        if self.site == "aniworld":
            title = names.romaji if r.random() < 0.55 else names.english
            pool = [n for n in (names.romaji, names.english, names.german) if n != title]
        elif self.site == "sto":
            title = names.german if r.random() < 0.5 else names.english
            pool = [n for n in (names.english, names.german) if n != title]
        else:
            title, pool = names.german, [names.english]
        if r.random() < 0.1:
            return title, ()
        alts = [a for a in dict.fromkeys(pool) if r.random() < 0.85]
        return title, tuple(alts)

    def slug(self, uid: int) -> str:
        # Slugs are assigned in uid order, so a uid keeps its slug forever (removals free nothing).
        with self._lock:
            while len(self._slugs) <= uid:
                candidate = stem = slugify(self.base(len(self._slugs)).title)
                n = 2
                while candidate in self._taken:
                    candidate, n = f"{stem}-{n}", n + 1
                self._taken.add(candidate)
                self._slugs.append(candidate)
            return self._slugs[uid]

    def day_state(self, day: int) -> DayState:
        with self._lock:
            while len(self._days) <= day:
                self._days.append(self._next_day(len(self._days)))
            return self._days[day]

    def _next_day(self, k: int) -> DayState:
        if k == 0:
            return DayState(frozenset(range(self.size)), (), (), ())
        prev = self._days[k - 1]
        r = rng(self.seed, self.site, "day", k)
        start = self.uid_limit(k - 1)
        added = tuple(range(start, start + self.add_per_day))
        candidates = sorted(prev.alive)
        removed = tuple(sorted(r.sample(candidates, min(self.remove_per_day, len(candidates) - 1))))
        kept = sorted(prev.alive - set(removed))
        renamed = tuple(sorted(r.sample(kept, min(self.rename_per_day, len(kept)))))
        renames = dict(prev.renames)
        for uid in renamed:
            renames[uid] = (*renames.get(uid, ()), k)
        alive = frozenset(kept) | frozenset(added)
        return DayState(alive, added, removed, renamed, renames)

    def entry(self, uid: int, day: int) -> Entry:
        base = self.base(uid)
        title, alts = base.title, base.alts
        for k in self.day_state(day).renames.get(uid, ()):
            if k <= day:
                title, alts = _rename(title, alts, base.names, rng(self.seed, self.site, uid, "rename", k))
        return Entry(self.site, uid, self.slug(uid), title, alts, base.kind)

    def view(self, day: int) -> View:
        with self._lock:
            view = self._views.get(day)
            if view is None:
                state = self.day_state(day)
                self.slug(self.uid_limit(day) - 1)
                rows = [self.entry(uid, day) for uid in sorted(state.alive)]
                rows.sort(key=lambda e: (e.title.casefold(), e.uid))
                view = View(tuple(rows), {e.slug: e for e in rows}, {e.uid: e for e in rows})
                self._views[day] = view
            return view


def _vary(names: Names, variant: str, r: random.Random) -> Names:
    if variant == "same":
        return names
    if variant == "bang":
        return Names(*(n + "!" if n else n for n in (names.romaji, names.english, names.german)))
    if variant == "film":
        return Names(
            names.romaji + " Movie" if names.romaji else "",
            names.english + ": The Movie",
            names.german + " – Der Film",
        )
    suffix = r.choice(_SUFFIXES)
    return Names(names.romaji + suffix[0] if names.romaji else "", names.english + suffix[1], names.german + suffix[2])


def _rename(title: str, alts: tuple[str, ...], names: Names, r: random.Random) -> tuple[str, tuple[str, ...]]:
    choice = r.randrange(3)
    if choice == 0 and alts:
        return alts[0], (title, *alts[1:])
    if choice == 1:
        extra = names.german if names.german not in (title, *alts) else f"{title} (Neu)"
        return title, (*alts, extra)
    return (title[:-1] if title.endswith("!") else title + "!"), alts
