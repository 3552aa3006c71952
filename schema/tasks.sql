-- Download task projection (derived from task.* and category.* events).
-- Bump TASKS_SCHEMA_VERSION in anibridge/projections/tasks.py when this file changes.
CREATE TABLE IF NOT EXISTS projection_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS tasks (
    hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    season INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    language TEXT NOT NULL,
    provider TEXT,
    mode TEXT,
    name TEXT NOT NULL,
    magnet TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    save_path TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,                       -- queued, downloading, paused, completed, failed
    paused INTEGER NOT NULL DEFAULT 0,
    added_on REAL NOT NULL,
    started_on REAL,
    completed_on REAL,
    downloaded INTEGER NOT NULL DEFAULT 0,
    total_size INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL DEFAULT '',
    quality TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    ratio_limit REAL NOT NULL DEFAULT -2,             -- qBittorrent share limits: -2 global, -1 none
    seeding_time_limit INTEGER NOT NULL DEFAULT -2,   -- minutes
    inactive_seeding_time_limit INTEGER NOT NULL DEFAULT -2,
    queue_rank REAL NOT NULL DEFAULT 0,         -- order of waiting downloads (lower starts first)
    forced INTEGER NOT NULL DEFAULT 0,          -- qBittorrent's force start: outside MAX_CONCURRENCY
    retry_at REAL,                              -- failed by a passing fault: tried again then
    auto_retries INTEGER NOT NULL DEFAULT 0,    -- automatic retries since the last grab or manual start
    position INTEGER NOT NULL                   -- journal position of the last event applied to it
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status);
CREATE INDEX IF NOT EXISTS tasks_by_retry ON tasks (retry_at) WHERE retry_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS categories (
    name TEXT PRIMARY KEY,
    save_path TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY                       -- tags created without a torrent (torrents/createTags)
);
