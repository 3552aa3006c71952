"""Catalogue projection: titles, names for search, episodes, canonical mapping, stage status.

Title listings arrive per generation: changes are staged in ``pending_titles`` and applied, with
the switch of the live generation, in the one transaction that applies the completion event.
Readers therefore see either the old generation or the new one, never a mixture.
"""

from __future__ import annotations

from typing import Any

import apsw
import orjson

from ..events.journal import StoredEvent
from ..events.registry import registered_types
from ..text import normalize

CATALOG_SCHEMA_VERSION = 1


def payload(ev: StoredEvent) -> dict[str, Any]:
    """Event payload as a dict; fast path when the stored version is current."""
    if registered_types()[ev.type].version == ev.version:
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

    def apply(self, conn: apsw.Connection, ev: StoredEvent) -> None:
        self._handlers[ev.type](conn, ev, payload(ev))

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
        rows = conn.execute(
            "SELECT slug, op, payload, recorded_at FROM pending_titles WHERE site = ? AND generation = ? ORDER BY seq",
            (site, gen),
        ).fetchall()
        for slug, op, raw, recorded_at in rows:
            if op == "upsert":
                self._upsert_title(conn, site, gen, orjson.loads(raw), recorded_at)
            else:
                self._remove_title(conn, site, slug)
        conn.execute("DELETE FROM pending_titles WHERE site = ? AND generation <= ?", (site, gen))
        _status(conn, site, "titles", state="ready", live_generation=gen, total=p["total"], done=p["total"],
                changed=p["added"] + p["changed"] + p["removed"], updated_at=ev.recorded_at,
                last_success_at=ev.recorded_at, last_duration_s=p["duration_s"], last_error="")

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
        slug = t["slug"]
        conn.execute(
            "INSERT INTO titles (site, slug, title, norm_title, path, media_type, listing_hash, generation,"
            " first_seen_at) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (site, slug) DO UPDATE SET title = excluded.title, norm_title = excluded.norm_title,"
            " path = excluded.path, media_type = excluded.media_type, listing_hash = excluded.listing_hash,"
            " generation = excluded.generation",
            (site, slug, t["title"], normalize(t["title"]), t["path"], t["media_type"], t["content_hash"], gen, at),
        )
        self._delete_names(conn, site, slug)
        seen: set[str] = set()
        for i, name in enumerate([t["title"], *t.get("alt_titles", [])]):
            norm = normalize(name)
            if not norm or norm in seen:
                continue
            seen.add(norm)
            conn.execute("INSERT INTO title_names (site, slug, name, norm, is_primary) VALUES (?,?,?,?,?)",
                         (site, slug, name, norm, 1 if i == 0 else 0))
            conn.execute("INSERT INTO title_fts (rowid, norm) VALUES (?, ?)", (conn.last_insert_rowid(), norm))

    def _delete_names(self, conn: apsw.Connection, site: str, slug: str) -> None:
        conn.execute("DELETE FROM title_fts WHERE rowid IN (SELECT id FROM title_names WHERE site = ? AND slug = ?)",
                     (site, slug))
        conn.execute("DELETE FROM title_names WHERE site = ? AND slug = ?", (site, slug))

    def _remove_title(self, conn: apsw.Connection, site: str, slug: str) -> None:
        self._delete_names(conn, site, slug)
        for table in ("titles", "episodes", "details_failures", "canonical", "episode_map"):
            conn.execute(f"DELETE FROM {table} WHERE site = ? AND slug = ?", (site, slug))

    # --- details ---------------------------------------------------------------------------------
    def _details_started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        _status(conn, p["site"], "details", state="running", run=p["run"], total=p["total"], done=0, failed=0,
                unchanged=0, changed=0, cursor="", started_at=ev.recorded_at, updated_at=ev.recorded_at,
                last_error="")

    def _details_recorded(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        site, slug = p["site"], p["slug"]
        exists = conn.execute("SELECT 1 FROM titles WHERE site = ? AND slug = ?", (site, slug)).fetchone()
        if exists is None:  # title removed meanwhile; its details no longer matter
            return
        conn.executemany(
            "INSERT INTO episodes (site, slug, season, episode, title_de, title_en, languages, hosters, path,"
            " first_seen_at, rev) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (site, slug, season, episode) DO UPDATE SET title_de = excluded.title_de,"
            " title_en = excluded.title_en, languages = excluded.languages, hosters = excluded.hosters,"
            " path = excluded.path, rev = excluded.rev",
            [(site, slug, e["season"], e["episode"], e["title_de"], e["title_en"], ",".join(e["languages"]),
              ",".join(e["hosters"]), e["path"], ev.recorded_at, ev.position) for e in p["episodes"]],
        )
        conn.execute("DELETE FROM episodes WHERE site = ? AND slug = ? AND rev < ?", (site, slug, ev.position))
        conn.execute(
            "UPDATE titles SET details_hash = ?, details_at = ?, description = ?, year = ?, episode_count = ?"
            " WHERE site = ? AND slug = ?",
            (p["content_hash"], ev.recorded_at, p.get("description", ""), p.get("year"), len(p["episodes"]),
             site, slug),
        )
        conn.execute("DELETE FROM details_failures WHERE site = ? AND slug = ?", (site, slug))
        conn.execute("UPDATE stage_status SET done = done + 1, changed = changed + 1, updated_at = ?"
                     " WHERE site = ? AND stage = 'details'", (ev.recorded_at, site))

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
