-- AniBridge journal, schema version 1. Append-only: positions are the rowid, gapless by construction
-- (one writer, no deletes, rolled-back inserts do not consume rowids).
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    recorded_at REAL    NOT NULL,
    stream      TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    checksum    INTEGER NOT NULL
);

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'journal is append-only: UPDATE refused');
END;

CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'journal is append-only: DELETE refused');
END;

CREATE TABLE IF NOT EXISTS journal_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO journal_meta (key, value) VALUES ('schema_version', '1');
