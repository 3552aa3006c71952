"""Catalogue projection: titles, names for search, episodes, canonical mapping, stage status.

Title listings arrive per generation: changes are staged in ``pending_titles`` and applied, with
the switch of the live generation, in the one transaction that applies the completion event.
Readers therefore see either the old generation or the new one, never a mixture.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any

import apsw
import orjson

from ..events.journal import StoredEvent
from ..events.registry import registered_types
from ..text import normalize

CATALOG_SCHEMA_VERSION = 5
# Pending title changes applied per statement batch when a generation completes (bounds memory).
_GENERATION_CHUNK = 2000
# Everything that belongs to one title (its names aside) and goes when the title goes.
_TITLE_TABLES = ("titles", "episodes", "details_failures", "canonical", "episode_map")
_UPSERT_TITLE = (
    "INSERT INTO titles (site, slug, title, norm_title, path, media_type, listing_hash, generation, first_seen_at)"
    " VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (site, slug) DO UPDATE SET title = excluded.title, norm_title = excluded.norm_title,"
    " path = excluded.path, media_type = excluded.media_type, listing_hash = excluded.listing_hash,"
    " generation = excluded.generation"
)
_NAME_IDS = "SELECT id FROM title_names WHERE site = ? AND slug = ?"
_INSERT_NAME = "INSERT INTO title_names (site, slug, name, norm, is_primary) VALUES (?,?,?,?,?)"


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


@cache
def _current_version(type_name: str) -> int:
    return registered_types()[type_name].version


def payload(ev: StoredEvent) -> dict[str, Any]:
    """Event payload as a dict; fast path (no model validation) when the stored version is current."""
    if _current_version(ev.type) == ev.version:
        return orjson.loads(ev.payload)
    return ev.data()


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
            "titles.upserted": self._stage_title,
            "titles.removed": self._stage_title,
            "titles.generation_completed": self._generation_completed,
            "titles.generation_failed": self._generation_failed,
            "details.run_started": self._details_started,
            "details.recorded": self._details_recorded,
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
        }
        self.event_types = frozenset(self._handlers)

    # Mapping results for a title removed while its lookup was in flight are dropped, not orphaned.
    _NEEDS_TITLE = frozenset({"canonical.series_matched", "canonical.series_unmatched", "canonical.episode_map",
                              "canonical.movie_identified", "canonical.failed"})

    def apply(self, conn: apsw.Connection, ev: StoredEvent) -> None:
        p = payload(ev)
        if ev.type in self._NEEDS_TITLE and conn.execute(
                "SELECT 1 FROM titles WHERE site = ? AND slug = ?", (p["site"], p["slug"])).fetchone() is None:
            return
        self._handlers[ev.type](conn, ev, p)

    # --- titles ----------------------------------------------------------------------------------
    def _generation_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "titles", state="running", run=p["generation"], started_at=ev.recorded_at,
                updated_at=ev.recorded_at, done=0, failed=0, total=0, last_error="")

    def _stage_title(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        op = "upsert" if ev.type == "titles.upserted" else "remove"
        conn.execute(
            "INSERT INTO pending_titles (site, generation, seq, slug, op, payload, recorded_at) VALUES (?,?,?,?,?,?,?)",
            (p["site"], p["generation"], ev.position, p["slug"], op, ev.payload if op == "upsert" else None,
             ev.recorded_at),
        )
        conn.execute("UPDATE stage_status SET done = done + 1, updated_at = ? WHERE site = ? AND stage = 'titles'",
                     (ev.recorded_at, p["site"]))

    def _generation_completed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site, gen = p["site"], p["generation"]
        where = " FROM pending_titles WHERE site = ? AND generation = ?"
        total, distinct = conn.execute("SELECT count(*), count(DISTINCT slug)" + where, (site, gen)).fetchone()
        rows = conn.execute("SELECT slug, op, payload, recorded_at" + where + " ORDER BY seq", (site, gen))
        if total == distinct:
            # Each slug once (the usual case): order does not matter, apply in bulk, chunk by chunk.
            while chunk := list(islice(rows, _GENERATION_CHUNK)):
                self._apply_titles_bulk(conn, site, gen, chunk)
        else:  # a slug changed more than once in this generation: apply in journal order
            for slug, op, raw, recorded_at in rows:
                if op == "upsert":
                    self._upsert_title(conn, site, gen, orjson.loads(raw), recorded_at)
                else:
                    self._remove_title(conn, site, slug)
        conn.execute("DELETE FROM pending_titles WHERE site = ? AND generation <= ?", (site, gen))
        _status(conn, site, "titles", state="ready", live_generation=gen, total=p["total"], done=p["total"],
                changed=p["added"] + p["changed"] + p["removed"], updated_at=ev.recorded_at,
                last_success_at=ev.recorded_at, last_duration_s=p["duration_s"], last_error="")

    def _apply_titles_bulk(self, conn: apsw.Connection, site: str, gen: int,
                           chunk: list[tuple[str, str, bytes | None, float]]) -> None:
        """Same end state as ``_upsert_title`` / ``_remove_title`` row by row, for distinct slugs."""
        removed = [(site, slug) for slug, op, _, _ in chunk if op != "upsert"]
        if removed:
            self._delete_names_many(conn, removed)
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
        conn.executemany(_UPSERT_TITLE, title_rows)
        self._delete_names_many(conn, [(site, slug) for slug, _, _ in upserts])
        (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM title_names").fetchone()
        conn.executemany(_INSERT_NAME, name_rows)
        conn.execute("INSERT INTO title_fts (rowid, norm) SELECT id, norm FROM title_names WHERE id > ? ORDER BY id",
                     (before,))

    @staticmethod
    def _delete_names_many(conn: apsw.Connection, keys: list[tuple[str, str]]) -> None:
        # Delete from the FTS index by rowid, in ascending order: FTS5 flushes its pending index data
        # whenever a rowid is lower than the previous one it saw, which made unordered deletes slow.
        ids = sorted(row for key in keys for row in conn.execute(_NAME_IDS, key))
        if ids:
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

    def _upsert_title(self, conn: apsw.Connection, site: str, gen: int, t: dict[str, Any], at: float) -> None:
        slug, title = t["slug"], t["title"]
        norm_title = normalize(title)
        conn.execute(_UPSERT_TITLE,
                     (site, slug, title, norm_title, t["path"], t["media_type"], t["content_hash"], gen, at))
        self._delete_names(conn, site, slug)
        for row in _names(site, slug, title, norm_title, t.get("alt_titles", ())):
            conn.execute(_INSERT_NAME, row)
            conn.execute("INSERT INTO title_fts (rowid, norm) VALUES (?, ?)", (conn.last_insert_rowid(), row[3]))

    def _delete_names(self, conn: apsw.Connection, site: str, slug: str) -> None:
        self._delete_names_many(conn, [(site, slug)])

    def _remove_title(self, conn: apsw.Connection, site: str, slug: str) -> None:
        self._delete_names(conn, site, slug)
        for table in _TITLE_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE site = ? AND slug = ?", (site, slug))

    # --- details ---------------------------------------------------------------------------------
    def _details_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "details", state="running", run=p["run"], total=p["total"], done=0, failed=0,
                unchanged=0, changed=0, cursor="", started_at=ev.recorded_at, updated_at=ev.recorded_at,
                last_error="")

    def _details_recorded(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site, slug, episodes = p["site"], p["slug"], p["episodes"]
        conn.execute(
            "UPDATE titles SET details_hash = ?, details_at = ?, description = ?, year = ?, imdb_id = ?,"
            " page_title = ?, episode_count = ? WHERE site = ? AND slug = ?",
            (p["content_hash"], ev.recorded_at, p.get("description", ""), p.get("year"), p.get("imdb_id"),
             p.get("title", ""), len(episodes), site, slug),
        )
        if conn.changes() == 0:  # title removed meanwhile; its details no longer matter
            return
        at, rev = ev.recorded_at, ev.position
        conn.executemany(
            "INSERT INTO episodes (site, slug, season, episode, title_de, title_en, languages, hosters, path,"
            " first_seen_at, rev) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (site, slug, season, episode) DO UPDATE SET title_de = excluded.title_de,"
            " title_en = excluded.title_en, languages = excluded.languages, hosters = excluded.hosters,"
            " path = excluded.path, rev = excluded.rev",
            [(site, slug, e["season"], e["episode"], e["title_de"], e["title_en"], ",".join(e["languages"]),
              ",".join(e["hosters"]), e["path"], at, rev) for e in episodes],
        )
        conn.execute("DELETE FROM episodes WHERE site = ? AND slug = ? AND rev < ?", (site, slug, rev))
        conn.execute("DELETE FROM details_failures WHERE site = ? AND slug = ?", (site, slug))
        conn.execute("UPDATE stage_status SET done = done + 1, changed = changed + 1, updated_at = ?"
                     " WHERE site = ? AND stage = 'details'", (at, site))

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

    def hash_queries(self) -> list[str]:
        return [
            "SELECT * FROM stage_status ORDER BY site, stage",
            "SELECT site, generation, seq, slug, op, payload FROM pending_titles ORDER BY site, generation, seq",
            "SELECT * FROM titles ORDER BY site, slug",
            "SELECT site, slug, name, norm, is_primary FROM title_names ORDER BY site, slug, norm",
            "SELECT * FROM episodes ORDER BY site, slug, season, episode",
            "SELECT * FROM details_failures ORDER BY site, slug",
            "SELECT * FROM canonical ORDER BY site, slug",
            "SELECT * FROM canonical_overrides ORDER BY site, slug",
            "SELECT * FROM episode_map ORDER BY site, slug, season, episode",
        ]
