"""Download task projection: what ``torrents/info`` reads, derived from task.* and category.* events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apsw

from ..events.journal import StoredEvent
from .catalog import payload

TASKS_SCHEMA_VERSION = 4


class TaskProjection:
    name = "tasks"
    schema_file = "tasks.sql"
    schema_version = TASKS_SCHEMA_VERSION

    def __init__(self) -> None:
        self._handlers = {
            "task.requested": self._requested,
            "task.paused": self._paused,
            "task.resumed": self._resumed,
            "task.deleted": self._deleted,
            "task.category_set": self._category_set,
            "task.share_limits_set": self._share_limits_set,
            "task.queue_moved": self._queue_moved,
            "task.force_start_set": self._force_start_set,
            "task.tags_set": self._tags_set,
            "task.renamed": self._renamed,
            "task.location_set": self._location_set,
            "tags.created": self._tags_created,
            "tags.deleted": self._tags_deleted,
            "task.started": self._started,
            "task.progress": self._progress,
            "task.completed": self._completed,
            "task.failed": self._failed,
            "category.created": self._category_saved,
            "category.edited": self._category_saved,
            "category.removed": self._category_removed,
        }
        self.event_types = frozenset(self._handlers)

    def apply(self, conn: apsw.Connection, ev: StoredEvent) -> None:
        self._handlers[ev.type](conn, ev, payload(ev))

    def apply_many(self, conn: apsw.Connection, events: Iterable[StoredEvent]) -> None:
        for ev in events:
            self._handlers[ev.type](conn, ev, payload(ev))

    @staticmethod
    def _set(conn: apsw.Connection, ev: StoredEvent, task_hash: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE tasks SET {cols}, position = ? WHERE hash = ?",
                     (*fields.values(), ev.position, task_hash))

    def _requested(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        # Re-adding a known hash is a no-op, as in qBittorrent (the first add wins).
        conn.execute(
            "INSERT OR IGNORE INTO tasks (hash, site, slug, season, episode, language, provider, mode, name, magnet,"
            " category, save_path, tags, status, paused, added_on, ratio_limit, seeding_time_limit,"
            " inactive_seeding_time_limit, queue_rank, forced, position)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (p["hash"], p["site"], p["slug"], p["season"], p["episode"], p["language"], p.get("provider"),
             p.get("mode"), p["name"], p["magnet"], p.get("category", ""), p.get("save_path", ""),
             p.get("tags", ""), "queued", 1 if p.get("paused") else 0, p["added_on"], p.get("ratio_limit", -2.0),
             p.get("seeding_time_limit", -2), p.get("inactive_seeding_time_limit", -2),
             ev.position if p.get("rank") is None else p["rank"], 1 if p.get("forced") else 0, ev.position),
        )

    def _paused(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], paused=1)

    def _resumed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        # Resuming a failed task retries it (its marker file, if any, was removed by the command).
        conn.execute("UPDATE tasks SET paused = 0, forced = 0, position = ?, retry_at = NULL,"
                     " auto_retries = CASE WHEN ? THEN auto_retries ELSE 0 END,"
                     " path = CASE WHEN status = 'failed' THEN '' ELSE path END,"
                     " completed_on = CASE WHEN status = 'failed' THEN NULL ELSE completed_on END,"
                     " downloaded = CASE WHEN status = 'failed' AND path != '' THEN 0 ELSE downloaded END,"
                     " total_size = CASE WHEN status = 'failed' AND path != '' THEN 0 ELSE total_size END,"
                     " error = CASE WHEN status = 'failed' THEN '' ELSE error END,"
                     " status = CASE WHEN status = 'failed' THEN 'queued' ELSE status END WHERE hash = ?",
                     (ev.position, 1 if p.get("automatic") else 0, p["hash"]))

    def _deleted(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("DELETE FROM tasks WHERE hash = ?", (p["hash"],))

    def _category_set(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], category=p["category"])

    def _share_limits_set(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], ratio_limit=p["ratio_limit"], seeding_time_limit=p["seeding_time_limit"],
                  inactive_seeding_time_limit=p["inactive_seeding_time_limit"])

    def _queue_moved(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], queue_rank=p["rank"])

    def _force_start_set(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], forced=1 if p["forced"] else 0)

    def _tags_set(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], tags=p["tags"])

    def _renamed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], name=p["name"])

    def _location_set(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], save_path=p["save_path"])

    def _tags_created(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        for name in p["tags"]:
            conn.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", (name,))

    def _tags_deleted(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        # as qBittorrent: a deleted tag leaves every torrent too
        for name in p["tags"]:
            conn.execute("DELETE FROM tags WHERE name = ?", (name,))
        rows = conn.execute("SELECT hash, tags FROM tasks WHERE tags != ''").fetchall()
        gone = set(p["tags"])
        for task_hash, tags in rows:
            kept = [t for t in tags.split(",") if t.strip() and t.strip() not in gone]
            if len(kept) != len([t for t in tags.split(",") if t.strip()]):
                conn.execute("UPDATE tasks SET tags = ?, position = ? WHERE hash = ?",
                             (",".join(kept), ev.position, task_hash))

    def _started(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("UPDATE tasks SET status = 'downloading', started_on = coalesce(started_on, ?), host = ?,"
                     " attempts = attempts + 1, error = '', position = ? WHERE hash = ? AND status != 'completed'",
                     (ev.recorded_at, p["host"], ev.position, p["hash"]))

    def _progress(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("UPDATE tasks SET downloaded = ?, total_size = ?, position = ? WHERE hash = ?"
                     " AND status = 'downloading'", (p["downloaded"], p["total"], ev.position, p["hash"]))

    def _completed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        self._set(conn, ev, p["hash"], status="completed", path=p["path"], total_size=p["size"],
                  downloaded=p["size"], quality=p.get("quality", ""), completed_on=p["completed_on"], error="")

    def _failed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        marker = p.get("marker_path", "")
        if marker:  # shown to Sonarr/Radarr as a finished download of that file (torrents/info)
            conn.execute("UPDATE tasks SET status = 'failed', error = ?, path = ?, total_size = ?, downloaded = ?,"
                         " completed_on = ?, position = ? WHERE hash = ? AND status != 'completed'",
                         (p["reason"], marker, p.get("marker_size", 0), p.get("marker_size", 0), ev.recorded_at,
                          ev.position, p["hash"]))
            return
        retry_at = p.get("retry_at")
        conn.execute("UPDATE tasks SET status = 'failed', error = ?, retry_at = ?,"
                     " auto_retries = auto_retries + ?, position = ? WHERE hash = ? AND status != 'completed'",
                     (p["reason"], retry_at, 0 if retry_at is None else 1, ev.position, p["hash"]))

    def _category_saved(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO categories (name, save_path) VALUES (?, ?)",
                     (p["name"], p.get("save_path", "")))

    def _category_removed(self, conn: apsw.Connection, ev: StoredEvent, p: dict[str, Any]) -> None:
        conn.execute("DELETE FROM categories WHERE name = ?", (p["name"],))
        conn.execute("UPDATE tasks SET category = '' WHERE category = ?", (p["name"],))

    def hash_queries(self) -> list[str]:
        return ["SELECT * FROM tasks ORDER BY hash", "SELECT * FROM categories ORDER BY name",
                "SELECT * FROM tags ORDER BY name"]
