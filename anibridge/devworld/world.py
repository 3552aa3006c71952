"""The deterministic provider world: everything derives from (seed, site sizes, day)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from anibridge.devworld.catalog import Catalogue
from anibridge.devworld.model import (
    SITES,
    Entry,
    EpisodeInfo,
    Stream,
    Structure,
    TitleInfo,
    decode_link,
    encode_link,
)
from anibridge.devworld.names import description, episode_titles
from anibridge.devworld.rng import rng
from anibridge.devworld.structure import aired_seasons, make_structure


class World:
    """Provider catalogues, title pages' content and the TVDB ground truth.

    ``titles`` is the day-0 size of every site unless ``sizes`` overrides a site. Each site
    grows by ~0.5 % a day, loses ~0.2 % and renames ~0.33 % (at least one of each).
    """

    def __init__(
        self,
        seed: int = 1,
        titles: int = 200,
        day: int = 0,
        episodes_per_title: float | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        self.seed = seed
        self.titles = titles
        self.episodes_per_title = episodes_per_title
        self.sizes = {site: int((sizes or {}).get(site, titles)) for site in SITES}
        self.catalogues = {site: Catalogue(seed, site, self.sizes[site]) for site in SITES}
        self._structures: dict[tuple[str, int], Structure] = {}
        self._lock = threading.Lock()
        self._day = day
        from anibridge.devworld.canon import Canonical

        self.canonical = Canonical(self)

    # -- time ---------------------------------------------------------------------------------
    @property
    def day(self) -> int:
        return self._day

    def set_day(self, day: int) -> None:
        if day < 0:
            raise ValueError("day must be >= 0")
        self._day = day

    def _d(self, day: int | None) -> int:
        return self._day if day is None else day

    # -- catalogue ----------------------------------------------------------------------------
    def entries(self, site: str, day: int | None = None) -> tuple[Entry, ...]:
        return self.catalogues[site].view(self._d(day)).entries

    def entry(self, site: str, slug: str, day: int | None = None) -> Entry | None:
        return self.catalogues[site].view(self._d(day)).by_slug.get(slug)

    def entry_by_uid(self, site: str, uid: int, day: int | None = None) -> Entry | None:
        return self.catalogues[site].view(self._d(day)).by_uid.get(uid)

    def structure(self, site: str, uid: int) -> Structure:
        key = (site, uid)
        found = self._structures.get(key)
        if found is None:
            catalogue = self.catalogues[site]
            found = make_structure(
                self.seed, site, uid, catalogue.base(uid).kind, self.episodes_per_title, catalogue.added_day(uid)
            )
            with self._lock:
                self._structures[key] = found
        return found

    def info(self, site: str, slug: str, day: int | None = None) -> TitleInfo | None:
        entry = self.entry(site, slug, day)
        return None if entry is None else self._info(entry, self._d(day))

    def info_by_uid(self, site: str, uid: int, day: int | None = None) -> TitleInfo | None:
        entry = self.entry_by_uid(site, uid, day)
        return None if entry is None else self._info(entry, self._d(day))

    def info_any(self, site: str, uid: int, day: int | None = None) -> TitleInfo:
        """Title info even when the title is not (or no longer) in the day's catalogue."""
        d = self._d(day)
        return self._info(self.catalogues[site].entry(uid, d), d)

    def _info(self, entry: Entry, day: int) -> TitleInfo:
        structure = self.structure(entry.site, entry.uid)
        base = self.catalogues[entry.site].base(entry.uid)
        r = rng(self.seed, entry.site, entry.uid, "info")
        imdb = f"tt{r.randrange(100000, 9999999):07d}" if entry.site == "megakino" else None
        return TitleInfo(
            entry=entry,
            names=base.names,
            structure=structure,
            seasons=aired_seasons(structure, day),
            description=description(r, base.names),
            imdb_id=imdb,
            imdb_on_page=imdb is not None and r.random() < 0.7,
        )

    # -- episodes -----------------------------------------------------------------------------
    def episode(self, info: TitleInfo, season: int, number: int) -> EpisodeInfo | None:
        if not 1 <= number <= info.seasons.get(season, 0):
            return None
        r = rng(self.seed, info.site, info.uid, season, number)
        title_de, title_en = episode_titles(r)
        if r.random() < 0.05:
            title_en = ""
        languages = [lang for i, lang in enumerate(info.structure.languages) if i == 0 or r.random() < 0.9]
        streams: list[Stream] = []
        for lang in languages:
            hosters = [h for h in info.structure.hosters if r.random() < 0.85] or [info.structure.hosters[0]]
            streams.extend(
                Stream(encode_link(info.site, info.uid, season, number, lang, h), lang, h) for h in hosters
            )
        return EpisodeInfo(season, number, title_de, title_en, tuple(streams))

    def season_episodes(self, info: TitleInfo, season: int) -> list[EpisodeInfo]:
        found = (self.episode(info, season, n) for n in range(1, info.seasons.get(season, 0) + 1))
        return [e for e in found if e is not None]

    def resolve_link(self, link_id: int, day: int | None = None) -> tuple[TitleInfo, EpisodeInfo, Stream] | None:
        decoded = decode_link(link_id)
        if decoded is None:
            return None
        site, uid, season, number, _, _ = decoded
        info = self.info_by_uid(site, uid, day)
        episode = None if info is None else self.episode(info, season, number)
        if info is None or episode is None:
            return None
        stream = next((s for s in episode.streams if s.link_id == link_id), None)
        return None if stream is None else (info, episode, stream)

    def warm(self) -> None:
        """Build the day's catalogues and SkyHook search index now instead of on first request."""
        for site in SITES:
            self.entries(site)
        self.canonical.search("warm")

    # -- ground truth and change log ----------------------------------------------------------
    def truth(self, site: str, slug: str, day: int | None = None) -> dict[str, Any] | None:
        """{tvdb_id, status, episode_map: {(ps, pe): (ts, te, abs)}, ...} or None for unknown slugs."""
        info = self.info(site, slug, day)
        return None if info is None else self.canonical.truth(info)

    def changes(self, site: str, day: int) -> dict[str, list[str]]:
        """What differs between ``day - 1`` and ``day`` on a site (slugs)."""
        if day <= 0:
            return {"added": [], "removed": [], "renamed": [], "new_episodes": []}
        catalogue = self.catalogues[site]
        state = catalogue.day_state(day)
        new_episodes = []
        for uid in sorted(state.alive - set(state.added)):
            structure = self.structure(site, uid)
            if structure.ongoing and aired_seasons(structure, day) != aired_seasons(structure, day - 1):
                new_episodes.append(catalogue.slug(uid))
        return {
            "added": [catalogue.slug(u) for u in state.added],
            "removed": [catalogue.slug(u) for u in state.removed],
            "renamed": [catalogue.slug(u) for u in state.renamed],
            "new_episodes": new_episodes,
        }
