"""Catalogue projection: titles, names for search, episodes, canonical mapping, stage status.

Title listings arrive per generation: changes are staged in ``pending_titles`` and applied, with
the switch of the live generation, in the one transaction that applies the completion event.
Readers therefore see either the old generation or the new one, never a mixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import orjson

from ..events.journal import StoredEvent
from ..events.registry import registered_types
from ..schema import load_sql
from ..text import normalize

if TYPE_CHECKING:
    from ..events.journal import Journal
    from .episodes_loader import EpisodesLoader

CATALOG_SCHEMA_VERSION = 7
# Pending title changes applied per statement batch when a generation completes (bounds memory).
_GENERATION_CHUNK = 2000
# Everything that belongs to one title (its names aside) and goes when the title goes.
_TITLE_TABLES = ("titles", "episodes", "details_failures", "parse_problems", "canonical", "episode_map")
# INSERT statements written for many rows (see ``_insert_many``): {} is where their VALUES go.
_UPSERT_TITLES = (
    "INSERT INTO titles (site, slug, title, norm_title, path, media_type, listing_hash, generation, first_seen_at)"
    " VALUES {}"
    " ON CONFLICT (site, slug) DO UPDATE SET title = excluded.title, norm_title = excluded.norm_title,"
    " path = excluded.path, media_type = excluded.media_type, listing_hash = excluded.listing_hash,"
    " generation = excluded.generation"
)
_NAME_IDS = ("SELECT id FROM title_names WHERE site = ? AND slug IN (SELECT value FROM json_each(?))"
             " ORDER BY id")
_INSERT_NAMES = "INSERT INTO title_names (site, slug, name, norm, is_primary) VALUES {}"
_STAGE_TITLES = "INSERT INTO pending_titles (site, generation, seq, slug, op, payload, recorded_at) VALUES {}"
_UPSERT_EPISODES = (
    "INSERT INTO episodes (site, slug, season, episode, title_de, title_en, languages, hosters, path,"
    " first_seen_at, rev) VALUES {}"
    " ON CONFLICT (site, slug, season, episode) DO UPDATE SET title_de = excluded.title_de,"
    " title_en = excluded.title_en, languages = excluded.languages, hosters = excluded.hosters,"
    " path = excluded.path, rev = excluded.rev"
)
# Rows per statement in ``_insert_many``.
_ROWS_PER_STATEMENT = 64
# Titles that exist, with what recording their details has to replace.
_KNOWN_TITLES = (
    "SELECT slug, episode_count, EXISTS (SELECT 1 FROM details_failures f WHERE f.site = t.site AND f.slug = t.slug),"
    " EXISTS (SELECT 1 FROM parse_problems p WHERE p.site = t.site AND p.slug = t.slug)"
    " FROM titles t WHERE t.site = ? AND t.slug IN (SELECT value FROM json_each(?))"
)
_INSERT_PROBLEMS = ("INSERT OR REPLACE INTO parse_problems (site, slug, kind, count, detail, recorded_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)")
_UPDATE_DETAILS = (
    "UPDATE titles SET details_hash = ?, details_at = ?, description = ?, year = ?, imdb_id = ?,"
    " page_title = ?, episode_count = ? WHERE site = ? AND slug = ?"
)
_BUMP_STATUS = ("UPDATE stage_status SET done = done + ?, changed = changed + ?, updated_at = ?"
                " WHERE site = ? AND stage = ?")
# Held back and written in bulk by ``apply_many``.
_HOLD_DETAILS = 100
_STAGED = frozenset({"titles.upserted", "titles.removed"})
_DETAILS = "details.recorded"
# Applied in place while those writes are held back: they neither read nor write what those do.
_COMMUTING = frozenset({"canonical.series_matched", "canonical.series_unmatched", "canonical.episode_map",
                        "canonical.movie_identified", "canonical.failed", "canonical.override"})
# Left in place by a bulk load: the one secondary index applying uses, and the episodes' (the loader
# builds it with the episodes, both are copied in together). It builds the others once, at the end.
_KEPT_INDEXES = frozenset({"title_names_by_title", "episodes_by_first_seen"})


def _names(site: str, slug: str, title: str, norm_title: str,
           alt_titles: Iterable[str]) -> Iterator[tuple[str, str, str, str, int]]:
    """title_names rows of a title: the display title first, then distinct alternative names."""
    seen = {norm_title} if norm_title else set()
    if norm_title:
        yield (site, slug, title, norm_title, 1)
    for name in alt_titles:
        norm = normalize(name)
        if norm and norm not in seen:
            seen.add(norm)
            yield (site, slug, name, norm, 0)


def _json_text(values: list[str]) -> str:
    # Text, not bytes: SQLite's JSON functions read a BLOB argument as its binary JSONB format.
    return orjson.dumps(values).decode()


@cache
def _values(template: str, width: int, rows: int) -> str:
    return template.format(",".join(["(" + ",".join("?" * width) + ")"] * rows))


def _insert_many(conn: apsw.Connection, template: str, rows: list[tuple[Any, ...]], bulk: bool) -> None:
    """``executemany`` for an INSERT template. In a bulk load, many rows per statement: a statement
    inserts its rows one after the other, exactly as one statement per row would, at a fraction of the
    calls. (Not otherwise: with a rollback journal, such a statement also journals every page it
    changes, so that it can be undone on its own, which costs more than the calls it saves.)"""
    if not rows:
        return
    width, n = len(rows[0]), _ROWS_PER_STATEMENT
    whole = len(rows) - len(rows) % n if bulk else 0
    if whole:
        sql = _values(template, width, n)
        for start in range(0, whole, n):
            conn.execute(sql, list(chain.from_iterable(rows[start:start + n])))
    if whole < len(rows):
        conn.executemany(_values(template, width, 1), rows[whole:])


def episode_rows(ev: StoredEvent, p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """episodes rows of a ``details.recorded`` event."""
    site, slug, at, rev = p["site"], p["slug"], ev.recorded_at, ev.position
    return [(site, slug, e["season"], e["episode"], e["title_de"], e["title_en"], ",".join(e["languages"]),
             ",".join(e["hosters"]), e["path"], at, rev) for e in p["episodes"]]


def write_episodes(conn: apsw.Connection, rows: list[tuple[Any, ...]], stale: list[tuple[str, str, int]],
                   bulk: bool = False) -> None:
    """Episodes recorded for distinct titles: each title's rows replace what it had, keeping when an
    episode was first seen. ``stale`` names (site, slug, position) of titles that had episodes before."""
    _insert_many(conn, _UPSERT_EPISODES, rows, bulk)
    if stale:
        conn.executemany("DELETE FROM episodes WHERE site = ? AND slug = ? AND rev < ?", stale)


@cache
def _current_version(type_name: str) -> int:
    return registered_types()[type_name].version


def payload(ev: StoredEvent) -> dict[str, Any]:
    """Event payload as a dict; fast path (no model validation) when the stored version is current."""
    if _current_version(ev.type) == ev.version:
        return orjson.loads(ev.payload)
    return ev.data()


class _Held:
    """Writes held back during one ``apply_many`` call and issued in bulk."""

    def __init__(self) -> None:
        self.staged: list[tuple[Any, ...]] = []
        # (site, slug) -> position, recorded_at, titles columns, episodes rows (None: the loader writes them),
        # parse problems
        self.details: dict[tuple[str, str], tuple[int, float, tuple[Any, ...], list[tuple[Any, ...]] | None,
                                                  list[dict[str, Any]]]] = {}
        # (site, stage) -> [done increment, changed increment, updated_at of the last one]
        self.counts: dict[tuple[str, str], list[Any]] = {}

    def count(self, site: str, stage: str, at: float, changed: int = 0) -> None:
        c = self.counts.get((site, stage))
        if c is None:
            self.counts[site, stage] = [1, changed, at]
        else:
            c[0] += 1
            c[1] += changed
            c[2] = at


def _status(conn: apsw.Connection, site: str, stage: str, **fields: Any) -> None:
    conn.execute("INSERT OR IGNORE INTO stage_status (site, stage) VALUES (?, ?)", (site, stage))
    if fields:
        cols = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE stage_status SET {cols} WHERE site = ? AND stage = ?", (*fields.values(), site, stage))


class CatalogProjection:
    name = "catalog"
    schema_file = "catalog.sql"
    schema_version = CATALOG_SCHEMA_VERSION

    def __init__(self) -> None:
        self._handlers = {
            "titles.generation_started": self._generation_started,
            "titles.generation_completed": self._generation_completed,
            "titles.generation_failed": self._generation_failed,
            "details.run_started": self._details_started,
            "details.failed": self._details_failed,
            "details.run_progress": self._details_progress,
            "details.run_completed": self._details_completed,
            "details.run_aborted": self._details_aborted,
            "canonical.run_started": self._canonical_started,
            "canonical.run_completed": self._canonical_completed,
            "canonical.series_matched": self._series_matched,
            "canonical.series_unmatched": self._series_unmatched,
            "canonical.episode_map": self._episode_map,
            "canonical.movie_identified": self._movie_identified,
            "canonical.failed": self._canonical_failed,
            "canonical.override": self._override,
            "provider.challenged": self._challenged,
            "provider.host_changed": self._host_changed,
        }
        self.event_types = frozenset(self._handlers) | _STAGED | {_DETAILS}
        # While ``bulk_load`` runs: the process writing the episodes (the search index waits too).
        self._loader: EpisodesLoader | None = None

    # Mapping results for a title removed while its lookup was in flight are dropped, not orphaned.
    _NEEDS_TITLE = frozenset({"canonical.series_matched", "canonical.series_unmatched", "canonical.episode_map",
                              "canonical.movie_identified", "canonical.failed"})

    def apply(self, conn: apsw.Connection, ev: StoredEvent) -> None:
        self.apply_many(conn, [ev])

    def apply_many(self, conn: apsw.Connection, events: Iterable[StoredEvent]) -> None:
        """Apply events in journal order. Staging title changes and recording details commute with each
        other and with the canonical results (none reads what another writes, stage counters aside), so
        those writes are held back and issued in bulk: before any other event, and at the end."""
        held = _Held()
        for ev in events:
            kind = ev.type
            p = payload(ev)
            if kind in _STAGED:
                upsert = kind == "titles.upserted"
                held.staged.append((p["site"], p["generation"], ev.position, p["slug"],
                                    "upsert" if upsert else "remove", ev.payload if upsert else None,
                                    ev.recorded_at))
                held.count(p["site"], "titles", ev.recorded_at)
                continue
            if kind == _DETAILS:
                key = (p["site"], p["slug"])
                # The same title again must wait for the first to be written; holding many decoded
                # payloads costs more (allocator, garbage collector) than bigger statements save.
                if key in held.details or len(held.details) >= _HOLD_DETAILS:
                    self._flush_details(conn, held)
                at = ev.recorded_at
                held.details[key] = (ev.position, at, (p["content_hash"], at, p.get("description", ""), p.get("year"),
                                                       p.get("imdb_id"), p.get("title", ""), len(p["episodes"])),
                                     episode_rows(ev, p) if self._loader is None else None, p.get("problems") or [])
                continue
            if kind not in _COMMUTING:
                self._flush(conn, held)
            elif kind in self._NEEDS_TITLE and conn.execute(
                    "SELECT 1 FROM titles WHERE site = ? AND slug = ?", (p["site"], p["slug"])).fetchone() is None:
                continue
            self._handlers[kind](conn, ev, p)
        self._flush(conn, held)

    def _flush(self, conn: apsw.Connection, held: _Held) -> None:
        if held.staged:
            _insert_many(conn, _STAGE_TITLES, held.staged, self._loader is not None)
            held.staged.clear()
        if held.details:
            self._flush_details(conn, held)
        if held.counts:
            conn.executemany(_BUMP_STATUS, [(done, changed, at, site, stage)
                                            for (site, stage), (done, changed, at) in held.counts.items()])
            held.counts.clear()

    def _flush_details(self, conn: apsw.Connection, held: _Held) -> None:
        """``details.recorded`` of distinct titles, each with the same effect as applied alone."""
        slugs: dict[str, list[str]] = {}
        for site, slug in held.details:
            slugs.setdefault(site, []).append(slug)
        known: dict[tuple[str, str], tuple[int, int, int]] = {}
        for site, names in slugs.items():
            for slug, count, failed, had_problems in conn.execute(_KNOWN_TITLES, (site, _json_text(names))):
                known[site, slug] = (count, failed, had_problems)
        titles: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        stale: list[tuple[str, str, int]] = []
        loaded: list[tuple[int, bool]] = []
        failures: list[tuple[str, str]] = []
        old_problems: list[tuple[str, str]] = []
        problems: list[tuple[Any, ...]] = []
        for key, (position, at, columns, episodes, noted) in held.details.items():
            state = known.get(key)
            if state is None:  # title removed meanwhile; its details no longer matter
                continue
            titles.append((*columns, *key))
            had_episodes = state[0] > 0  # else there are no rows to replace
            if episodes is None:
                loaded.append((position, had_episodes))
            else:
                rows += episodes
                if had_episodes:
                    stale.append((*key, position))
            if state[1]:
                failures.append(key)
            if state[2]:
                old_problems.append(key)
            problems += [(*key, n["kind"], n["count"], n.get("detail", ""), at) for n in noted]
            held.count(key[0], "details", at, changed=1)
        held.details.clear()
        if titles:
            conn.executemany(_UPDATE_DETAILS, titles)
        if self._loader is not None:
            self._loader.recorded(loaded)
        write_episodes(conn, rows, stale)
        if failures:
            conn.executemany("DELETE FROM details_failures WHERE site = ? AND slug = ?", failures)
        if old_problems:
            conn.executemany("DELETE FROM parse_problems WHERE site = ? AND slug = ?", old_problems)
        if problems:
            conn.executemany(_INSERT_PROBLEMS, problems)

    # --- titles ----------------------------------------------------------------------------------
    def _generation_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "titles", state="running", run=p["generation"], started_at=ev.recorded_at,
                updated_at=ev.recorded_at, done=0, failed=0, total=0, last_error="")

    def _generation_completed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site, gen = p["site"], p["generation"]
        where = " FROM pending_titles WHERE site = ? AND generation = ?"
        total, distinct = conn.execute("SELECT count(*), count(DISTINCT slug)" + where, (site, gen)).fetchone()
        rows = conn.execute("SELECT slug, op, payload, recorded_at" + where + " ORDER BY seq", (site, gen))
        bulk = self._loader is not None  # a rebuild's bulk load: the search index is built at its end
        if total == distinct:
            # Each slug once (the usual case): order does not matter, apply in bulk, chunk by chunk.
            while chunk := list(islice(rows, _GENERATION_CHUNK)):
                self._apply_titles_bulk(conn, site, gen, chunk, bulk)
        else:  # a slug changed more than once in this generation: apply in journal order
            for slug, op, raw, recorded_at in rows:
                if op == "upsert":
                    self._upsert_title(conn, site, gen, orjson.loads(raw), recorded_at, bulk)
                else:
                    self._remove_title(conn, site, slug, bulk)
        conn.execute("DELETE FROM pending_titles WHERE site = ? AND generation <= ?", (site, gen))
        if not bulk:
            # A generation rewrites many names and leaves the search index in several segments, each
            # looked up by every search word; merging them (a few ms) takes ~30 us off each search.
            conn.execute("INSERT INTO title_fts (title_fts) VALUES ('optimize')")
        _status(conn, site, "titles", state="ready", live_generation=gen, total=p["total"], done=p["total"],
                changed=p["added"] + p["changed"] + p["removed"], updated_at=ev.recorded_at,
                last_success_at=ev.recorded_at, last_duration_s=p["duration_s"], last_error="")

    def _apply_titles_bulk(self, conn: apsw.Connection, site: str, gen: int,
                           chunk: list[tuple[str, str, bytes | None, float]], bulk: bool) -> None:
        """Same end state as ``_upsert_title`` / ``_remove_title`` row by row, for distinct slugs."""
        removed = [(site, slug) for slug, op, _, _ in chunk if op != "upsert"]
        if removed:
            self._delete_names(conn, site, [slug for _, slug in removed], bulk)
            if self._loader is not None:
                self._loader.removed(removed)
            for table in _TITLE_TABLES:
                conn.executemany(f"DELETE FROM {table} WHERE site = ? AND slug = ?", removed)
        upserts = [(slug, orjson.loads(raw), at) for slug, op, raw, at in chunk if op == "upsert" and raw]
        if not upserts:
            return
        title_rows: list[tuple[Any, ...]] = []
        name_rows: list[tuple[Any, ...]] = []
        for slug, t, at in upserts:
            title = t["title"]
            norm_title = normalize(title)
            title_rows.append((site, slug, title, norm_title, t["path"], t["media_type"], t["content_hash"], gen, at))
            name_rows.extend(_names(site, slug, title, norm_title, t.get("alt_titles", ())))
        _insert_many(conn, _UPSERT_TITLES, title_rows, bulk)
        self._delete_names(conn, site, [slug for slug, _, _ in upserts], bulk)
        (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM title_names").fetchone()
        _insert_many(conn, _INSERT_NAMES, name_rows, bulk)
        if not bulk:
            conn.execute("INSERT INTO title_fts (rowid, norm) SELECT id, norm FROM title_names WHERE id > ?"
                         " ORDER BY id", (before,))

    @staticmethod
    def _delete_names(conn: apsw.Connection, site: str, slugs: list[str], bulk: bool) -> None:
        # Delete from the FTS index by rowid, in ascending order: FTS5 flushes its pending index data
        # whenever a rowid is lower than the previous one it saw, which made unordered deletes slow.
        ids = conn.execute(_NAME_IDS, (site, _json_text(slugs))).fetchall()
        if ids:
            if not bulk:
                conn.executemany("DELETE FROM title_fts WHERE rowid = ?", ids)
            conn.executemany("DELETE FROM title_names WHERE id = ?", ids)

    def _generation_failed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site = p["site"]
        conn.execute("DELETE FROM pending_titles WHERE site = ? AND generation = ?", (site, p["generation"]))
        row = conn.execute("SELECT live_generation FROM stage_status WHERE site = ? AND stage = 'titles'",
                           (site,)).fetchone()
        live = row[0] if row else None
        # A failed refresh leaves the previous generation serving; only a site never indexed is 'failed'.
        _status(conn, site, "titles", state="ready" if live is not None else "failed", updated_at=ev.recorded_at,
                last_error=p["reason"])

    def _upsert_title(self, conn: apsw.Connection, site: str, gen: int, t: dict[str, Any], at: float,
                      bulk: bool) -> None:
        slug, title = t["slug"], t["title"]
        norm_title = normalize(title)
        conn.execute(_values(_UPSERT_TITLES, 9, 1),
                     (site, slug, title, norm_title, t["path"], t["media_type"], t["content_hash"], gen, at))
        self._delete_names(conn, site, [slug], bulk)
        for row in _names(site, slug, title, norm_title, t.get("alt_titles", ())):
            conn.execute(_values(_INSERT_NAMES, 5, 1), row)
            if not bulk:
                conn.execute("INSERT INTO title_fts (rowid, norm) VALUES (?, ?)", (conn.last_insert_rowid(), row[3]))

    def _remove_title(self, conn: apsw.Connection, site: str, slug: str, bulk: bool) -> None:
        self._delete_names(conn, site, [slug], bulk)
        if self._loader is not None:
            self._loader.removed([(site, slug)])
        for table in _TITLE_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE site = ? AND slug = ?", (site, slug))

    # --- details ---------------------------------------------------------------------------------
    def _details_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "details", state="running", run=p["run"], total=p["total"], done=0, failed=0,
                unchanged=0, changed=0, cursor="", started_at=ev.recorded_at, updated_at=ev.recorded_at,
                last_error="")

    def _details_failed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO details_failures (site, slug, url, reason, retry_at, failed_at)"
            " VALUES (?,?,?,?,?,?)",
            (p["site"], p["slug"], p["url"], p["reason"], p["retry_at"], ev.recorded_at),
        )
        conn.execute("UPDATE stage_status SET failed = failed + 1, updated_at = ?, last_error = ?"
                     " WHERE site = ? AND stage = 'details'", (ev.recorded_at, f"{p['url']}: {p['reason']}", p["site"]))

    def _details_progress(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "details", cursor=p["cursor"], done=p["done"], failed=p["failed"],
                unchanged=p["unchanged"], updated_at=ev.recorded_at)

    def _details_completed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "details", state="ready", done=p["done"], failed=p["failed"],
                unchanged=p["unchanged"], changed=p["changed"], updated_at=ev.recorded_at,
                last_success_at=ev.recorded_at, last_duration_s=p["duration_s"], cursor="")

    def _details_aborted(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        row = conn.execute("SELECT last_success_at FROM stage_status WHERE site = ? AND stage = 'details'",
                           (p["site"],)).fetchone()
        _status(conn, p["site"], "details", state="ready" if row and row[0] else "failed",
                updated_at=ev.recorded_at, last_error=p["reason"])

    # --- canonical -------------------------------------------------------------------------------
    def _canonical_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "canonical", state="running", run=p["run"], total=p["total"], done=0, failed=0,
                changed=0, unchanged=0, started_at=ev.recorded_at, updated_at=ev.recorded_at, last_error="")

    def _canonical_completed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "canonical", state="ready", failed=p["failed"], updated_at=ev.recorded_at,
                last_success_at=ev.recorded_at, last_duration_s=p["duration_s"])

    def _bump_canonical(self, conn: apsw.Connection, site: str, at: float, failed: bool = False) -> None:
        col = "failed" if failed else "done"
        conn.execute(f"UPDATE stage_status SET {col} = {col} + 1, updated_at = ?"
                     " WHERE site = ? AND stage = 'canonical'", (at, site))

    def _series_matched(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO canonical (site, slug, status, tvdb_id, tvdb_title, imdb_id, year, confidence,"
            " source, reason, details_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (p["site"], p["slug"], "matched", p["tvdb_id"], p["tvdb_title"], p.get("imdb_id"), p.get("year"),
             p["confidence"], p["source"], p["reason"], p.get("details_hash", "")),
        )
        self._bump_canonical(conn, p["site"], ev.recorded_at)

    def _series_unmatched(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO canonical (site, slug, status, reason, details_hash) VALUES (?,?,?,?,?)",
            (p["site"], p["slug"], p["status"], p["reason"], p.get("details_hash", "")),
        )
        conn.execute("DELETE FROM episode_map WHERE site = ? AND slug = ?", (p["site"], p["slug"]))
        self._bump_canonical(conn, p["site"], ev.recorded_at)

    def _episode_map(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site, slug = p["site"], p["slug"]
        conn.execute("DELETE FROM episode_map WHERE site = ? AND slug = ?", (site, slug))
        conn.executemany(
            "INSERT OR REPLACE INTO episode_map (site, slug, season, episode, tvdb_season, tvdb_episode, absolute)"
            " VALUES (?,?,?,?,?,?,?)",
            [(site, slug, *entry) for entry in p["entries"]],
        )

    def _movie_identified(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO canonical (site, slug, status, tvdb_title, imdb_id, tmdb_id, year, confidence,"
            " source, reason, details_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (p["site"], p["slug"], "movie", p["title"], p.get("imdb_id"), p.get("tmdb_id"), p.get("year"), 1.0,
             "provider", "movie page", p.get("details_hash", "")),
        )
        self._bump_canonical(conn, p["site"], ev.recorded_at)

    def _canonical_failed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO canonical (site, slug, status, reason, retry_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (site, slug) DO UPDATE SET retry_at = excluded.retry_at,"
            " reason = CASE WHEN canonical.status = 'failed' THEN excluded.reason ELSE canonical.reason END",
            (p["site"], p["slug"], "failed", p["reason"], p["retry_at"]),
        )
        self._bump_canonical(conn, p["site"], ev.recorded_at, failed=True)

    def _override(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        if p["tvdb_id"] is None:
            conn.execute("DELETE FROM canonical_overrides WHERE site = ? AND slug = ?", (p["site"], p["slug"]))
        else:
            conn.execute("INSERT OR REPLACE INTO canonical_overrides (site, slug, tvdb_id) VALUES (?,?,?)",
                         (p["site"], p["slug"], p["tvdb_id"]))

    # --- provider behaviour ----------------------------------------------------------------------
    def _challenged(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO challenges (site, kind, count, last_at, last_url, last_stage) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (site, kind) DO UPDATE SET count = count + excluded.count, last_at = excluded.last_at,"
            " last_url = excluded.last_url, last_stage = excluded.last_stage",
            (p["site"], p["kind"], p["count"], ev.recorded_at, p["url"], p["stage"]))

    def _host_changed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO provider_hosts (site, base_url, previous, reason, changed_at)"
                     " VALUES (?,?,?,?,?)", (p["site"], p["base_url"], p["previous"], p["reason"], ev.recorded_at))

    # --- rebuild ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def bulk_load(self, conn: apsw.Connection, journal: Journal) -> Iterator[None]:
        """Fill a fresh file from the journal (outside any transaction), faster than event by event.

        A second process writes the episodes (``episodes_loader``); the secondary indexes applying
        does not use, and the search index, are built once at the end, each in one pass.
        """
        from .episodes_loader import EpisodesLoader

        if conn.execute("SELECT value FROM projection_meta WHERE key = 'checkpoint'").fetchone() != ("0",):
            raise ValueError("a bulk load fills a fresh projection file only")
        for (index,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
                                     ).fetchall():
            if index not in _KEPT_INDEXES:
                conn.execute(f'DROP INDEX "{index}"')
        loader = EpisodesLoader(journal.path, Path(conn.filename + "-episodes"))
        self._loader = loader
        try:
            yield
            # While the loader finishes: the dropped indexes again, and the search index.
            conn.execute(load_sql(self.schema_file))
            conn.execute("DELETE FROM title_fts")
            conn.execute("INSERT INTO title_fts (rowid, norm) SELECT id, norm FROM title_names ORDER BY id")
            loader.finish(conn)
        except BaseException:
            loader.abort()
            raise
        finally:
            self._loader = None

    def hash_queries(self) -> list[str]:
        return [
            "SELECT * FROM stage_status ORDER BY site, stage",
            "SELECT site, generation, seq, slug, op, payload FROM pending_titles ORDER BY site, generation, seq",
            "SELECT * FROM titles ORDER BY site, slug",
            "SELECT site, slug, name, norm, is_primary FROM title_names ORDER BY site, slug, norm",
            "SELECT * FROM episodes ORDER BY site, slug, season, episode",
            "SELECT * FROM details_failures ORDER BY site, slug",
            "SELECT * FROM parse_problems ORDER BY site, slug, kind",
            "SELECT * FROM challenges ORDER BY site, kind",
            "SELECT * FROM provider_hosts ORDER BY site",
            "SELECT * FROM canonical ORDER BY site, slug",
            "SELECT * FROM canonical_overrides ORDER BY site, slug",
            "SELECT * FROM episode_map ORDER BY site, slug, season, episode",
        ]
