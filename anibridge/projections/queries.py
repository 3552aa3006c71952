"""Read queries over the catalogue projection (used by Torznab, health and the crawlers)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from ..releases import LANGUAGES
from ..text import normalize
from .reader import ProjectionReader

STAGES = ("titles", "details", "canonical")
_STATUS_COLUMNS = ("site", "stage", "state", "run", "live_generation", "total", "done", "failed", "unchanged",
                   "changed", "cursor", "started_at", "updated_at", "last_success_at", "last_duration_s", "last_error")

# Effective TVDB id of a title: a user's pin wins over the automatic match.
_TITLE_SELECT = """
SELECT t.site, t.slug, coalesce(nullif(t.page_title, ''), t.title), t.media_type, t.year, t.first_seen_at,
       coalesce(o.tvdb_id, CASE WHEN c.status = 'matched' THEN c.tvdb_id END) AS tvdb_id,
       c.tvdb_title, c.imdb_id, coalesce(c.year, t.year) AS canon_year, o.tvdb_id IS NOT NULL AS pinned,
       EXISTS (SELECT 1 FROM episode_map m WHERE m.site = t.site AND m.slug = t.slug) AS mapped
FROM titles t
LEFT JOIN canonical c ON c.site = t.site AND c.slug = t.slug
LEFT JOIN canonical_overrides o ON o.site = t.site AND o.slug = t.slug
"""


@dataclass(frozen=True, slots=True)
class TitleHit:
    site: str
    slug: str
    title: str
    media_type: str
    year: int | None
    first_seen_at: float
    tvdb_id: int | None
    tvdb_title: str | None
    imdb_id: str | None
    canon_year: int | None
    pinned: bool
    score: float = 0.0
    mapped: bool | None = None  # has a TVDB episode map (``CatalogQueries.has_episode_map``); None: not read

    @property
    def display_title(self) -> str:
        """The name Sonarr/Radarr know it by: the TVDB title when mapped, a film page's own title
        (sitemaps only give slugs), else the provider's listing title."""
        return self.tvdb_title or self.title


@dataclass(frozen=True, slots=True)
class EpisodeHit:
    site: str
    slug: str
    season: int
    episode: int
    title_de: str
    title_en: str
    languages: tuple[str, ...]
    first_seen_at: float
    tvdb_season: int | None
    tvdb_episode: int | None
    absolute: int | None


# What a release needs of an episode (CatalogQueries.iter_episode_rows): season, episode, title_de,
# title_en, languages ("German Dub,German Sub"), first_seen_at, tvdb_season, tvdb_episode.
EpisodeRow = tuple[int, int, str, str, str, float, int | None, int | None]


def episode_row(ep: EpisodeHit) -> EpisodeRow:
    return (ep.season, ep.episode, ep.title_de, ep.title_en, ",".join(ep.languages), ep.first_seen_at,
            ep.tvdb_season, ep.tvdb_episode)


def _title(row: tuple[Any, ...], score: float = 0.0) -> TitleHit:
    return TitleHit(*row[:10], pinned=bool(row[10]), score=score, mapped=bool(row[11]))


def _fts_query(tokens: list[list[str]], prefix: bool = True) -> str:
    """FTS5 MATCH text: every token group must match (a group is alternatives, e.g. umlaut spellings).

    Tokens come from ``normalize`` ([0-9a-z] only) and are always quoted, so no query text can
    reach FTS5's syntax (NEAR, OR, ``-``, ``*``, column filters). With ``prefix`` the last token
    may be a prefix ("one pie" finds "one piece").
    """
    parts = []
    for i, group in enumerate(tokens):
        star = "*" if prefix and i == len(tokens) - 1 else ""
        alts = [f'"{t}"{star}' for t in group]
        parts.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    return " AND ".join(parts)


# Words a title search may do without when the exact spelling finds nothing ("&" reads as "and",
# and Sonarr drops a leading "The").
_STOPWORDS = frozenset({"and", "und", "the", "der", "die", "das", "a", "an", "of", "to", "no", "et"})
_UMLAUT_PAIR = re.compile(r"([aou])e")
_POSSESSIVE = re.compile(r"[0-9a-z]{2,}s")
_LONE_S = re.compile(r"(?<=[0-9a-z]) s\b")
_MAX_UMLAUT_SPOTS = 3
# Up to this many name matches are all scored; beyond it, the best 400 by bm25.
_UNRANKED_MAX = 400


def _umlaut_spellings(token: str) -> list[str]:
    """'damonenkonig' -> also 'daemonenkonig', 'damonenkoenig', ...: Sonarr strips accents ('ä' -> 'a')
    while the index folds umlauts to 'ae'. Only the first few vowels vary, so the list stays small."""
    spots = [m.start() for m in re.finditer(r"[aou](?!e)", token)][:_MAX_UMLAUT_SPOTS]
    out = [token]
    for spot in reversed(spots):
        out += [v[: spot + 1] + "e" + v[spot + 1:] for v in out]
    return out


def _passes(qtoks: list[str]) -> Iterator[tuple[list[list[str]], bool]]:
    """Token groups a search tries in turn (see ``search_titles``), and whether each is relaxed."""
    yield [[t] for t in qtoks], False
    if any(re.search(r"[aou](?!e)", t) for t in qtoks):
        yield [_umlaut_spellings(t) for t in qtoks], True
    content = [t for t in qtoks if t not in _STOPWORDS]
    if content and len(content) < len(qtoks):
        yield [_umlaut_spellings(t) for t in content], True
    if any(_POSSESSIVE.fullmatch(t) for t in qtoks):
        # Sonarr drops apostrophes ('Hank's Miracle' -> 'Hanks Miracle'); the index has 'hank s miracle'
        yield [[t, t[:-1]] if _POSSESSIVE.fullmatch(t) else [t] for t in qtoks], True


def _deumlaut(text: str) -> str:
    """The spelling relaxed passes compare: umlauts without their 'e', a possessive 's' joined to its word."""
    return _UMLAUT_PAIR.sub(r"\1", _LONE_S.sub("s", text))


class CatalogQueries:
    def __init__(self, reader: ProjectionReader) -> None:
        self.reader = reader

    def conn(self) -> apsw.Connection:
        return self.reader.connection()

    # --- status ---------------------------------------------------------------------------------
    def stage_status(self) -> dict[str, dict[str, dict[str, Any]]]:
        cols = _STATUS_COLUMNS
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for row in self.conn().execute(f"SELECT {', '.join(cols)} FROM stage_status ORDER BY site, stage"):
            rec = dict(zip(cols, row, strict=True))
            out.setdefault(rec["site"], {})[rec["stage"]] = rec
        return out

    def titles_ready(self, site: str) -> bool:
        row = self.conn().execute(
            "SELECT live_generation FROM stage_status WHERE site = ? AND stage = 'titles'", (site,)).fetchone()
        return bool(row and row[0] is not None)

    def ready_sites(self, sites: list[str]) -> list[str]:
        """``sites`` (in their order) whose titles stage has a live generation: one query for all."""
        if not sites:
            return []
        ready = {row[0] for row in self.conn().execute(
            "SELECT site FROM stage_status WHERE stage = 'titles' AND live_generation IS NOT NULL")}
        return [s for s in sites if s in ready]

    def counts(self, site: str) -> dict[str, int]:
        c = self.conn()
        return {
            "titles": c.execute("SELECT count(*) FROM titles WHERE site = ?", (site,)).fetchone()[0],
            "with_details": c.execute("SELECT count(*) FROM titles WHERE site = ? AND details_hash != ''",
                                      (site,)).fetchone()[0],
            "episodes": c.execute("SELECT count(*) FROM episodes WHERE site = ?", (site,)).fetchone()[0],
        }

    # --- titles ---------------------------------------------------------------------------------
    def search_titles(self, q: str, sites: list[str], media_type: str | None = None, limit: int = 10,
                      *, prefix: bool = True) -> list[TitleHit]:
        """Titles whose name or alternative name matches ``q``, best first.

        Every query word must occur in a name (the last one as a prefix unless ``prefix`` is off).
        When that finds nothing, two relaxed passes follow: umlauts typed without their ``e``
        (Sonarr's accent stripping: 'Damonenkonig'), then without small words ('and', 'the', ...).
        """
        norm = normalize(q)
        qtoks = norm.split()
        if not qtoks or not sites:
            return []
        candidates: list[tuple[str, str, str]] = []
        fuzzy = False
        for groups, relaxed in _passes(qtoks):
            candidates = self._candidates(norm, groups, sites, media_type, prefix)
            if candidates:
                fuzzy = relaxed
                break
        if not candidates:
            return []
        qkey = _deumlaut(norm) if fuzzy else norm
        qkeys = qkey.split()
        qcount, qset = len(qkeys), set(qkeys)
        best: dict[tuple[str, str], float] = {}
        for site, slug, name in candidates:
            score = _score(qkey, qcount, qset, _deumlaut(name) if fuzzy else name)
            if score > best.get((site, slug), -1.0):
                best[(site, slug)] = score
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[: limit * 4]
        if not ranked:
            return []
        # Only titles scoring at least the limit-th best can be among the first ``limit`` (ties go by
        # title length): the others are read only if one of those went away meanwhile.
        floor = ranked[min(limit, len(ranked)) - 1][1]
        contenders = [key for key, score in ranked if score >= floor]
        rows = self._title_rows(contenders)
        if len(rows) < len(contenders) < len(ranked):
            rows = self._title_rows([key for key, _ in ranked])
        hits = [_title(rows[key], score) for key, score in ranked if key in rows]
        hits.sort(key=lambda h: (-h.score, len(h.title), h.site, h.slug))
        return hits[:limit]

    def _candidates(self, norm: str, groups: list[list[str]], sites: list[str], media_type: str | None,
                    prefix: bool) -> list[tuple[str, str, str]]:
        """(site, slug, normalized name) of names matching: every match when there are at most
        _UNRANKED_MAX (exact names are among them), else exact names plus the best FTS matches by bm25
        (short names with the query words first), so a common word cannot crowd the right title out."""
        site_marks = ",".join("?" * len(sites))
        type_filter = " AND t.media_type = ?" if media_type else ""
        type_args = (media_type,) if media_type else ()
        c = self.conn()
        match = _fts_query(groups, prefix)
        # Most queries match a few hundred names at most: take them all (every candidate is scored
        # afterwards anyway) and skip bm25, which costs more than the whole rest of a search.
        ids = [row[0] for row in c.execute(
            "SELECT rowid FROM title_fts WHERE title_fts MATCH ? LIMIT ?", (match, _UNRANKED_MAX + 1))]
        if len(ids) <= _UNRANKED_MAX:
            return c.execute(
                "SELECT n.site, n.slug, n.norm FROM json_each(?) j CROSS JOIN title_names n ON n.id = j.value"
                " JOIN titles t ON t.site = n.site AND t.slug = n.slug"
                f" WHERE n.site IN ({site_marks}){type_filter}",
                (orjson.dumps(ids), *sites, *type_args)).fetchall()
        rows = c.execute(
            "SELECT n.site, n.slug, n.norm FROM title_names n JOIN titles t ON t.site = n.site AND t.slug = n.slug"
            f" WHERE n.norm = ? AND n.site IN ({site_marks}){type_filter}",
            (norm, *sites, *type_args)).fetchall()
        rows += c.execute(
            "SELECT n.site, n.slug, n.norm FROM (SELECT rowid, rank FROM title_fts WHERE title_fts MATCH ?"
            " ORDER BY rank LIMIT 400) f JOIN title_names n ON n.id = f.rowid"
            " JOIN titles t ON t.site = n.site AND t.slug = n.slug"
            f" WHERE n.site IN ({site_marks}){type_filter} ORDER BY f.rank LIMIT 200",
            (match, *sites, *type_args)).fetchall()
        return rows

    def _title_rows(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Any, ...]]:
        """Title rows by (site, slug), in one query (a row-value IN list walks the primary key). One SQL
        text for any number of keys: it stays among the connection's prepared statements."""
        if not keys:
            return {}
        return {(row[0], row[1]): row for row in self.conn().execute(
            _TITLE_SELECT + " WHERE (t.site, t.slug) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
            (orjson.dumps(keys),))}

    def title(self, site: str, slug: str) -> TitleHit | None:
        row = self.conn().execute(_TITLE_SELECT + " WHERE t.site = ? AND t.slug = ?", (site, slug)).fetchone()
        return _title(row) if row else None

    def titles_by_tvdb(self, tvdb_id: int, sites: list[str]) -> list[TitleHit]:
        """Titles whose effective TVDB id (pin, else automatic match) is ``tvdb_id``; index lookups only."""
        c = self.conn()
        keys = c.execute(
            "SELECT site, slug FROM canonical WHERE tvdb_id = ? AND status = 'matched'"
            " UNION SELECT site, slug FROM canonical_overrides WHERE tvdb_id = ?", (tvdb_id, tvdb_id)).fetchall()
        return self._titles_by_keys(keys, sites, lambda hit: hit.tvdb_id == tvdb_id)

    def titles_by_imdb(self, imdb_id: str, sites: list[str]) -> list[TitleHit]:
        keys = self.conn().execute("SELECT site, slug FROM canonical WHERE imdb_id = ?", (imdb_id,)).fetchall()
        return self._titles_by_keys(keys, sites, lambda hit: hit.imdb_id == imdb_id)

    def _titles_by_keys(self, keys: list[tuple[str, str]], sites: list[str],
                        keep: Callable[[TitleHit], bool]) -> list[TitleHit]:
        wanted = sorted({(site, slug) for site, slug in keys if site in sites})
        rows = self._title_rows(wanted)
        return [hit for key in wanted if key in rows and keep(hit := _title(rows[key], 100.0))]

    def titles_page(self, site: str, after_slug: str = "", limit: int = 500,
                    columns: str = "slug, listing_hash, details_hash") -> list[tuple[Any, ...]]:
        """Titles of a site in slug order, paged (for crawlers: bounded memory whatever the size)."""
        return self.conn().execute(
            f"SELECT {columns} FROM titles WHERE site = ? AND slug > ? ORDER BY slug LIMIT ?",
            (site, after_slug, limit)).fetchall()

    # --- episodes -------------------------------------------------------------------------------
    _EP_SELECT = """
    SELECT e.site, e.slug, e.season, e.episode, e.title_de, e.title_en, e.languages, e.first_seen_at,
           m.tvdb_season, m.tvdb_episode, m.absolute
    FROM episodes e
    LEFT JOIN episode_map m ON m.site = e.site AND m.slug = e.slug AND m.season = e.season AND m.episode = e.episode
    """

    _ROW_SELECT = """
    SELECT e.season, e.episode, e.title_de, e.title_en, e.languages, e.first_seen_at, m.tvdb_season, m.tvdb_episode
    FROM episodes e
    LEFT JOIN episode_map m ON m.site = e.site AND m.slug = e.slug AND m.season = e.season AND m.episode = e.episode
    """

    @staticmethod
    def _ep(row: tuple[Any, ...]) -> EpisodeHit:
        langs = tuple(x for x in row[6].split(",") if x)
        return EpisodeHit(row[0], row[1], row[2], row[3], row[4], row[5], langs, row[7], row[8], row[9], row[10])

    def has_episode_map(self, site: str, slug: str) -> bool:
        return self.conn().execute("SELECT 1 FROM episode_map WHERE site = ? AND slug = ? LIMIT 1",
                                   (site, slug)).fetchone() is not None

    def episodes(self, site: str, slug: str, season: int | None = None, episode: int | None = None,
                 *, canonical: bool = False, limit: int = 1000) -> list[EpisodeHit]:
        """Episodes of a title; ``canonical`` means season/episode are TVDB numbers (mapped when known)."""
        return list(self.iter_episodes(site, slug, season, episode, canonical=canonical, limit=limit))

    def iter_episodes(self, site: str, slug: str, season: int | None = None, episode: int | None = None,
                      *, canonical: bool = False, limit: int = 1000) -> Iterator[EpisodeHit]:
        """``episodes``, read row by row as consumed: a search that fills its page early stops reading."""
        where, args = self._episodes_where(site, slug, season, episode, canonical)
        return map(self._ep, self.conn().execute(self._EP_SELECT + where, (*args, limit)))

    def iter_episode_rows(self, site: str, slug: str, season: int | None = None, episode: int | None = None,
                          *, canonical: bool = False, mapped: bool | None = None,
                          limit: int = 1000) -> Iterator[EpisodeRow]:
        """``iter_episodes`` as plain rows of what a release needs (``EpisodeRow``): a search's hot path.

        ``mapped`` is ``has_episode_map`` when the caller knows it already (``TitleHit.mapped``).
        """
        where, args = self._episodes_where(site, slug, season, episode, canonical, mapped)
        return self.conn().execute(self._ROW_SELECT + where, (*args, limit))

    def _episodes_where(self, site: str, slug: str, season: int | None, episode: int | None, canonical: bool,
                        mapped: bool | None = None) -> tuple[str, list[Any]]:
        """WHERE, ORDER BY and LIMIT (its value to be appended to the arguments) of an episode list."""
        conds = ["e.site = ?", "e.slug = ?"]
        args: list[Any] = [site, slug]
        use_map = canonical and (self.has_episode_map(site, slug) if mapped is None else mapped)
        if use_map:
            # provider numbers break ties (unmapped episodes, two parts of one TVDB episode), so the
            # order is total and a shorter LIMIT gives a prefix of a longer one
            s_col, e_col = "m.tvdb_season", "m.tvdb_episode"
            order = "m.tvdb_season, m.tvdb_episode, e.season, e.episode"
        else:
            s_col, e_col, order = "e.season", "e.episode", "e.season, e.episode"
        if season is not None:
            conds.append(f"{s_col} = ?")
            args.append(season)
        if episode is not None:
            conds.append(f"{e_col} = ?")
            args.append(episode)
        return " WHERE " + " AND ".join(conds) + f" ORDER BY {order} LIMIT ?", args

    def episode_by_absolute(self, site: str, slug: str, absolute: int) -> list[EpisodeHit]:
        rows = self.conn().execute(self._EP_SELECT + " WHERE e.site = ? AND e.slug = ? AND m.absolute = ?",
                                   (site, slug, absolute)).fetchall()
        if rows:
            return [self._ep(r) for r in rows]
        # Unmapped title: count provider episodes in order, specials (season 0) excluded.
        row = self.conn().execute(
            self._EP_SELECT + " WHERE e.site = ? AND e.slug = ? AND e.season > 0"
            " ORDER BY e.season, e.episode LIMIT 1 OFFSET ?", (site, slug, absolute - 1)).fetchone()
        return [self._ep(row)] if row and absolute >= 1 else []

    def latest_releases(self, sites: list[str], limit: int, offset: int) -> list[EpisodeHit]:
        """Newest releases first (RSS sync): one row per episode and language, so ``offset``/``limit``
        count what the feed shows; stable order. Each hit carries exactly one language.

        Written so that an index ``episodes (first_seen_at, site, slug, season, episode)`` is walked in
        order and the query stops after ``offset + limit`` rows (episodes first, ``+site`` keeps the
        primary key out); without that index SQLite sorts every episode (about 1 s at 600k episodes).
        """
        if not sites or limit <= 0:
            return []
        marks = ",".join("?" * len(sites))
        langs = " UNION ALL ".join(f"SELECT '{lang}' AS lang, {i} AS ord" for i, lang in enumerate(LANGUAGES))
        rows = self.conn().execute(
            "SELECT e.site, e.slug, e.season, e.episode, e.title_de, e.title_en, l.lang, e.first_seen_at,"
            " m.tvdb_season, m.tvdb_episode, m.absolute"
            f" FROM episodes e CROSS JOIN ({langs}) l"
            " LEFT JOIN episode_map m ON m.site = e.site AND m.slug = e.slug AND m.season = e.season"
            " AND m.episode = e.episode"
            " WHERE instr(',' || e.languages || ',', ',' || l.lang || ',') > 0"
            f" AND +e.site IN ({marks})"
            " ORDER BY e.first_seen_at DESC, e.site DESC, e.slug DESC, e.season DESC, e.episode DESC, l.ord"
            " LIMIT ? OFFSET ?",
            (*sites, limit, offset)).fetchall()
        return [self._ep(r) for r in rows]

    def latest_episodes(self, sites: list[str], limit: int, offset: int) -> list[EpisodeHit]:
        """Newest episodes first (RSS sync), stable order for paging."""
        marks = ",".join("?" * len(sites))
        rows = self.conn().execute(
            self._EP_SELECT + f" WHERE e.site IN ({marks})"
            " ORDER BY e.first_seen_at DESC, e.site, e.slug, e.season DESC, e.episode DESC LIMIT ? OFFSET ?",
            (*sites, limit, offset)).fetchall()
        return [self._ep(r) for r in rows]


def _score(qnorm: str, qcount: int, qset: set[str], name: str) -> float:
    """``qcount`` and ``qset``: how many words ``qnorm`` has, and which."""
    if name == qnorm:
        return 100.0
    ntoks = name.split()
    if name.startswith(qnorm):
        return 80.0 - min(len(ntoks) - qcount, 20)
    return 40.0 * len(qset.intersection(ntoks)) / max(len(ntoks), qcount) + 10.0
