"""Value types and fixed vocabularies of the local provider world."""

from __future__ import annotations

from dataclasses import dataclass, field

from anibridge.devworld.names import Names
from anibridge.devworld.rng import base36

SITES: tuple[str, ...] = ("aniworld", "sto", "megakino")
SITE_CODES: dict[str, int] = {"aniworld": 0, "sto": 1, "megakino": 2}
HOSTERS: tuple[str, ...] = ("VOE", "Filemoon", "Streamtape", "Vidmoly", "Doodstream", "LoadX", "Luluvdo", "Vidoza")

# Language ids: AniWorld data-lang-key == s.to data-language-id.
LANGUAGES: dict[int, str] = {1: "German Dub", 2: "English Sub", 3: "German Sub", 4: "English Dub"}
ANIWORLD_FLAGS: dict[int, str] = {
    1: "german.svg", 2: "japanese-english.svg", 3: "japanese-german.svg", 4: "english.svg",
}
STO_LABELS: dict[int, str] = {
    1: "Deutsch", 2: "Englisch (Untertitel)", 3: "Deutsch (Untertitel)", 4: "Englisch",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One catalogue row as the alphabet page / sitemap shows it on a given day."""

    site: str
    uid: int
    slug: str
    title: str
    alts: tuple[str, ...]
    kind: str  # "series" | "film" | "serial"

    @property
    def megakino_id(self) -> int:
        return 1000 + self.uid

    @property
    def path(self) -> str:
        if self.site == "aniworld":
            return f"/anime/stream/{self.slug}"
        if self.site == "sto":
            return f"/serie/{self.slug}"
        return f"/films/{self.page_slug}.html" if self.kind == "film" else f"/serials/{self.page_slug}.html"

    @property
    def page_slug(self) -> str:
        """The slug in a Megakino page URL: ``<id>-<slug>``, and ``-1-staffel`` for a serial (one season)."""
        return f"{self.megakino_id}-{self.slug}" + ("-1-staffel" if self.kind == "serial" else "")


@dataclass(frozen=True, slots=True)
class Structure:
    """Day-independent shape of a title: seasons and their full episode counts.

    ``full[0]`` is the films (AniWorld) / specials (s.to) count, 0 when there are none. The last
    regular season of an ongoing title airs weekly; ``aired0`` is how much of it aired by day 0.
    """

    year: int
    full: tuple[int, ...]
    ongoing: bool
    aired0: int
    phase: int
    languages: tuple[int, ...]
    hosters: tuple[str, ...]
    genres: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TitleInfo:
    entry: Entry
    names: Names
    structure: Structure
    seasons: dict[int, int] = field(default_factory=dict)  # season -> aired episodes (0 = films/specials)
    description: str = ""
    imdb_id: str | None = None
    imdb_on_page: bool = False

    @property
    def site(self) -> str:
        return self.entry.site

    @property
    def uid(self) -> int:
        return self.entry.uid

    @property
    def slug(self) -> str:
        return self.entry.slug

    @property
    def title(self) -> str:
        return self.entry.title

    @property
    def year(self) -> int:
        return self.structure.year

    @property
    def regular_seasons(self) -> list[int]:
        return [s for s in sorted(self.seasons) if s > 0]


@dataclass(frozen=True, slots=True)
class Stream:
    link_id: int
    language: int
    hoster: str

    @property
    def video_id(self) -> str:
        return f"{self.hoster[:2].lower()}{base36(self.link_id)}"


@dataclass(frozen=True, slots=True)
class EpisodeInfo:
    season: int
    number: int
    title_de: str
    title_en: str
    streams: tuple[Stream, ...]

    @property
    def languages(self) -> list[int]:
        return sorted({s.language for s in self.streams})

    @property
    def hosters(self) -> list[str]:
        return [h for h in HOSTERS if any(s.hoster == h for s in self.streams)]


def encode_link(site: str, uid: int, season: int, episode: int, language: int, hoster: str) -> int:
    """Pack a stream's identity into the numeric id used by /redirect/<id> (decodable, no index)."""
    raw = (((uid * 64 + season) * 4096 + episode) * 8 + language) * 8 + HOSTERS.index(hoster)
    return raw * 4 + SITE_CODES[site]


def decode_link(link_id: int) -> tuple[str, int, int, int, int, str] | None:
    raw, code = divmod(link_id, 4)
    if code > 2 or link_id < 0:
        return None
    raw, hoster = divmod(raw, 8)
    raw, language = divmod(raw, 8)
    raw, episode = divmod(raw, 4096)
    uid, season = divmod(raw, 64)
    return SITES[code], uid, season, episode, language, HOSTERS[hoster]
