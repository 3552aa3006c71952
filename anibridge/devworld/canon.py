"""TVDB side of the world (what SkyHook serves) and the mapping ground truth."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anibridge.devworld.model import SITE_CODES, SITES, TitleInfo
from anibridge.devworld.names import Names, episode_titles
from anibridge.devworld.rng import rng, slugify
from anibridge.devworld.structure import EPOCH_YEAR
from anibridge.text import normalize

if TYPE_CHECKING:
    from anibridge.devworld.world import World

EPOCH = dt.date(EPOCH_YEAR, 1, 6)  # calendar date of day 0
TVDB_BASE = 70000

# (provider season, first provider episode, tvdb season, first tvdb episode, length)
Segment = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Head:
    """Cheap facts about the TVDB show(s) behind one provider title."""

    status: str  # match | ambiguous | unmatched
    tvdb_id: int | None
    decoy_id: int | None
    title: str
    alternates: tuple[str, ...]
    imdb_id: str | None
    decoy_year: int
    decoy_title: str


def tvdb_id(site: str, uid: int, decoy: bool = False) -> int:
    return TVDB_BASE + uid * 8 + SITE_CODES[site] * 2 + int(decoy)


def decode_tvdb(value: int) -> tuple[str, int, bool] | None:
    raw = value - TVDB_BASE
    if raw < 0:
        return None
    uid, rest = divmod(raw, 8)
    code, decoy = divmod(rest, 2)
    return (SITES[code], uid, bool(decoy)) if code < 3 else None


def _reformat(title: str) -> str:
    """Same title after normalize(), different spelling (as TVDB often has)."""
    if ": " in title:
        return title.replace(": ", " - ", 1)
    if title.endswith("!"):
        return title[:-1]
    return title.replace(" no ", " No ").replace(" and ", " & ") if (" no " in title or " and " in title) else title


class Canonical:
    def __init__(self, world: World) -> None:
        self.world = world
        self._heads: dict[tuple[str, int], Head | None] = {}
        self._index: dict[int, tuple[dict[str, set[int]], dict[str, set[int]]]] = {}
        self._lock = threading.Lock()

    # -- heads --------------------------------------------------------------------------------
    def head(self, site: str, uid: int) -> Head | None:
        """None for titles that are not series (megakino films)."""
        key = (site, uid)
        if key not in self._heads:
            self._heads[key] = self._make_head(site, uid)
        return self._heads[key]

    def _make_head(self, site: str, uid: int) -> Head | None:
        # Kept cheap (the search index needs one per title): the structure is only built when
        # the year matters, i.e. for near-duplicate titles and ambiguous ones.
        catalogue = self.world.catalogues[site]
        base = catalogue.base(uid)
        if base.kind == "film":
            return None
        r = rng(self.world.seed, site, uid, "canon")
        x = r.random()
        status = "unmatched" if x < 0.10 else "ambiguous" if x < 0.18 else "match"
        title, alternates = self._tvdb_names(base.title, base.alts, base.names, r)
        imdb_id = f"tt{r.randrange(100000, 9999999):07d}" if r.random() < 0.7 else None
        if base.variant == "same" and base.parent is not None and status == "match":
            parent = self.head(site, base.parent)
            if parent is not None and parent.status != "unmatched":
                status, title = "ambiguous", f"{title} ({self.world.structure(site, uid).year})"
        decoy_year, decoy_title = 0, ""
        if status == "ambiguous":
            year = self.world.structure(site, uid).year
            decoy_year = max(1960, min(EPOCH_YEAR, year + r.choice((-1, 1)) * r.randint(3, 15)))
            if decoy_year == year:
                decoy_year = year - 5
            decoy_title = title if r.random() < 0.5 else f"{title} ({decoy_year})"
        return Head(
            status=status,
            tvdb_id=None if status == "unmatched" else tvdb_id(site, uid),
            decoy_id=tvdb_id(site, uid, decoy=True) if status == "ambiguous" else None,
            title=title,
            alternates=alternates,
            imdb_id=imdb_id,
            decoy_year=decoy_year,
            decoy_title=decoy_title,
        )

    def split(self, info: TitleInfo) -> int:
        """Chunk size when a long provider season is several TVDB seasons; 0 = none."""
        r = rng(self.world.seed, info.site, info.uid, "split")
        big = max(info.structure.full[1:], default=0)
        return r.choice((12, 13, 24, 25, 26)) if info.site == "aniworld" and big > 40 and r.random() < 0.6 else 0

    def extra_specials(self, info: TitleInfo) -> int:
        return rng(self.world.seed, info.site, info.uid, "specials").choice((0, 0, 0, 1, 2))

    @staticmethod
    def _tvdb_names(display: str, alts: tuple[str, ...], names: Names, r: Any) -> tuple[str, tuple[str, ...]]:
        candidates = [n for n in (names.english, names.romaji, names.german) if n]
        mode = r.random()
        if mode < 0.5:
            title = display
        elif mode < 0.7:
            title = _reformat(display)
        else:  # found only through an alternate title
            others = [n for n in candidates if normalize(n) != normalize(display)]
            title = others[0] if others else display
        alternates = [n for n in dict.fromkeys([*candidates, display, *alts]) if n != title]
        return title, tuple(alternates)

    # -- layout and truth ---------------------------------------------------------------------
    def segments(self, info: TitleInfo, head: Head) -> tuple[dict[int, int], list[Segment]]:
        """TVDB season sizes and how provider seasons map onto them (full, not just aired)."""
        full = info.structure.full
        split, extra_specials = self.split(info), self.extra_specials(info)
        seasons: dict[int, int] = {}
        segments: list[Segment] = []
        ts = 1
        for ps in range(1, len(full)):
            count = full[ps]
            chunk = split if split and count > 40 else count
            for start in range(1, count + 1, chunk):
                length = min(chunk, count - start + 1)
                segments.append((ps, start, ts, 1, length))
                seasons[ts] = length
                ts += 1
        if full[0] or extra_specials:
            seasons[0] = full[0] + extra_specials
            if full[0]:
                segments.append((0, 1, 0, 1, full[0]))
        return seasons, segments

    def truth(self, info: TitleInfo) -> dict[str, Any]:
        head = self.head(info.site, info.uid)
        if head is None:
            return {
                "site": info.site, "slug": info.slug, "kind": "film", "tvdb_id": None,
                "imdb_id": info.imdb_id, "status": "match" if info.imdb_on_page else "unmatched",
                "year": info.year, "episode_map": {},
            }
        episode_map: dict[tuple[int, int], tuple[int, int, int | None]] = {}
        if head.tvdb_id is not None:
            seasons, segments = self.segments(info, head)
            for ps, pstart, ts, tstart, length in segments:
                for i in range(min(length, info.seasons.get(ps, 0) - pstart + 1)):
                    te = tstart + i
                    episode_map[(ps, pstart + i)] = (ts, te, self._absolute(info, seasons, ts, te))
        return {
            "site": info.site, "slug": info.slug, "kind": info.entry.kind, "tvdb_id": head.tvdb_id,
            "status": head.status, "decoy_tvdb_id": head.decoy_id, "tvdb_title": head.title,
            "year": info.year, "imdb_id": head.imdb_id, "episode_map": episode_map,
        }

    @staticmethod
    def _absolute(info: TitleInfo, seasons: dict[int, int], ts: int, te: int) -> int | None:
        if info.site != "aniworld" or ts == 0:
            return None
        return sum(seasons[s] for s in range(1, ts)) + te

    # -- SkyHook documents --------------------------------------------------------------------
    def show(self, value: int, with_episodes: bool = True, day: int | None = None) -> dict[str, Any] | None:
        decoded = decode_tvdb(value)
        if decoded is None:
            return None
        site, uid, decoy = decoded
        d = self.world.day if day is None else day
        if uid >= self.world.catalogues[site].uid_limit(d):
            return None
        head = self.head(site, uid)
        if head is None or head.tvdb_id is None or (decoy and head.decoy_id is None):
            return None
        # TVDB keeps shows the provider removed, so build the info without the day's catalogue.
        info = self.world.info_any(site, uid, d)
        return self._decoy_doc(info, head, with_episodes) if decoy else self._doc(info, head, with_episodes)

    def _common(self, info: TitleInfo, tvdb: int, title: str, year: int, status: str) -> dict[str, Any]:
        anime = info.site == "aniworld"
        return {
            "tvdbId": tvdb, "title": title, "sortTitle": normalize(title), "year": year,
            "slug": slugify(title), "status": status, "firstAired": f"{year}-01-10",
            "overview": info.description, "network": "Tokyo MX" if anime else "ZDF",
            "originalLanguage": "ja" if anime else "en", "runtime": 24 if anime else 45,
            "genres": list(info.structure.genres), "images": [], "tvMazeId": 0,
        }

    def _doc(self, info: TitleInfo, head: Head, with_episodes: bool) -> dict[str, Any]:
        assert head.tvdb_id is not None
        seasons, segments = self.segments(info, head)
        doc = self._common(info, head.tvdb_id, head.title, info.year,
                           "continuing" if info.structure.ongoing else "ended")
        doc["imdbId"] = head.imdb_id
        doc["alternateTitles"] = [{"title": t, "seasonNumber": -1} for t in head.alternates]
        doc["seasons"] = [{"seasonNumber": s, "images": []} for s in sorted(seasons)]
        if with_episodes:
            doc["episodes"] = self._episodes(info, head, seasons, segments)
        return doc

    def _episodes(
        self, info: TitleInfo, head: Head, seasons: dict[int, int], segments: list[Segment]
    ) -> list[dict[str, Any]]:
        inverse: dict[tuple[int, int], tuple[int, int]] = {}
        for ps, pstart, ts, tstart, length in segments:
            for i in range(length):
                inverse[(ts, tstart + i)] = (ps, pstart + i)
        regular_total = sum(c for s, c in seasons.items() if s > 0)
        structure = info.structure
        if structure.ongoing:
            aired_regular = regular_total - (structure.full[-1] - structure.aired0)
            first = EPOCH + dt.timedelta(days=7 - structure.phase if structure.phase else 7)
            start = first - dt.timedelta(days=7 * aired_regular)
            step = 7
        else:
            start = dt.date(info.year, 1, 10)
            span = max(1, (EPOCH - start).days - 30)
            step = max(1, min(7, span // max(1, regular_total)))
        out: list[dict[str, Any]] = []
        g = 0
        for ts in sorted(seasons):
            for te in range(1, seasons[ts] + 1):
                source = inverse.get((ts, te))
                title = ""
                if source is not None:
                    ep = self.world.episode(_full_info(info), *source)
                    title = ep.title_en if ep is not None else ""
                if not title:
                    title = episode_titles(rng(self.world.seed, info.site, info.uid, "tvdb", ts, te))[1]
                if ts == 0:
                    air = start + dt.timedelta(days=30 * te)
                    absolute = None
                else:
                    air = start + dt.timedelta(days=step * g)
                    g += 1
                    absolute = self._absolute(info, seasons, ts, te)
                out.append({
                    "tvdbShowId": head.tvdb_id, "tvdbId": (head.tvdb_id or 0) * 10000 + ts * 1000 + te,
                    "seasonNumber": ts, "episodeNumber": te, "absoluteEpisodeNumber": absolute,
                    "title": title, "airDate": air.isoformat(), "airDateUtc": f"{air.isoformat()}T15:00:00Z",
                    "runtime": 24,
                })
        return out

    def _decoy_doc(self, info: TitleInfo, head: Head, with_episodes: bool) -> dict[str, Any]:
        assert head.decoy_id is not None
        doc = self._common(info, head.decoy_id, head.decoy_title, head.decoy_year, "ended")
        doc["imdbId"] = None
        doc["alternateTitles"] = [{"title": t, "seasonNumber": -1} for t in head.alternates[:1]]
        r = rng(self.world.seed, info.site, info.uid, "decoy")
        real_total = sum(info.structure.full[1:])
        counts = [r.randint(6, 26) for _ in range(r.randint(1, 3))]
        if sum(counts) == real_total:
            counts[0] += 1
        doc["seasons"] = [{"seasonNumber": s + 1, "images": []} for s in range(len(counts))]
        if with_episodes:
            episodes: list[dict[str, Any]] = []
            absolute = 0
            for s, count in enumerate(counts, start=1):
                for e in range(1, count + 1):
                    absolute += 1
                    air = dt.date(head.decoy_year, 1, 10) + dt.timedelta(days=7 * absolute)
                    episodes.append({
                        "tvdbShowId": head.decoy_id, "tvdbId": head.decoy_id * 10000 + s * 1000 + e,
                        "seasonNumber": s, "episodeNumber": e, "absoluteEpisodeNumber": absolute,
                        "title": episode_titles(rng(self.world.seed, "decoy", info.uid, s, e))[1],
                        "airDate": air.isoformat(), "airDateUtc": f"{air.isoformat()}T15:00:00Z", "runtime": 24,
                    })
            doc["episodes"] = episodes
        return doc

    # -- search -------------------------------------------------------------------------------
    def _search_index(self, day: int) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
        with self._lock:
            index = self._index.get(day)
            if index is not None:
                return index
            tokens: dict[str, set[int]] = {}
            exact: dict[str, set[int]] = {}
            for site in SITES:
                for uid in range(self.world.catalogues[site].uid_limit(day)):
                    head = self.head(site, uid)
                    if head is None or head.tvdb_id is None:
                        continue
                    shows = [(head.tvdb_id, (head.title, *head.alternates))]
                    if head.decoy_id is not None:
                        shows.append((head.decoy_id, (head.decoy_title, *head.alternates[:1])))
                    for show_id, titles in shows:
                        for t in titles:
                            key = normalize(t)
                            exact.setdefault(key, set()).add(show_id)
                            for token in key.split():
                                tokens.setdefault(token, set()).add(show_id)
            self._index[day] = index = (tokens, exact)
            return index

    def search(self, term: str, day: int | None = None, limit: int = 20) -> list[dict[str, Any]]:
        d = self.world.day if day is None else day
        if term.lower().startswith("tvdb:"):
            doc = self.show(int(term[5:]), with_episodes=False, day=d) if term[5:].strip().isdigit() else None
            return [doc] if doc else []
        key = normalize(term)
        words = key.split()
        if not words:
            return []
        tokens, exact = self._search_index(d)
        found = set.intersection(*(tokens.get(w, set()) for w in words))
        ranked = sorted(found, key=lambda i: (i not in exact.get(key, set()), i))[:limit]
        docs = (self.show(i, with_episodes=False, day=d) for i in ranked)
        return [doc for doc in docs if doc is not None]


def _full_info(info: TitleInfo) -> TitleInfo:
    """The same title with every episode aired (TVDB lists unaired episodes too)."""
    seasons = {n: c for n, c in enumerate(info.structure.full) if n > 0 or c}
    return TitleInfo(info.entry, info.names, info.structure, seasons, info.description, info.imdb_id,
                     info.imdb_on_page)
