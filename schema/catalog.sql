-- Catalogue projection (derived from the journal; rebuilt, never migrated).
-- Bump CATALOG_SCHEMA_VERSION in anibridge/projections/catalog.py when this file changes.
CREATE TABLE IF NOT EXISTS projection_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Per site and stage (titles, details, canonical): what the crawl is doing and how far it got.
CREATE TABLE IF NOT EXISTS stage_status (
    site TEXT NOT NULL,
    stage TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',      -- pending, running, ready, failed
    run INTEGER NOT NULL DEFAULT 0,             -- generation (titles) or run number
    live_generation INTEGER,                    -- titles only
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    cursor TEXT NOT NULL DEFAULT '',
    started_at REAL,
    updated_at REAL,
    last_success_at REAL,
    last_duration_s REAL,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, stage)
);

-- Title changes of a generation that has not completed yet; applied in one transaction on completion.
CREATE TABLE IF NOT EXISTS pending_titles (
    site TEXT NOT NULL,
    generation INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    slug TEXT NOT NULL,
    op TEXT NOT NULL,                           -- upsert, remove
    payload BLOB,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (site, generation, seq)
);

CREATE TABLE IF NOT EXISTS titles (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    norm_title TEXT NOT NULL,
    path TEXT NOT NULL,
    media_type TEXT NOT NULL,
    listing_hash TEXT NOT NULL,
    generation INTEGER NOT NULL,
    first_seen_at REAL NOT NULL,
    details_hash TEXT NOT NULL DEFAULT '',
    details_at REAL,
    description TEXT NOT NULL DEFAULT '',
    year INTEGER,
    imdb_id TEXT,
    page_title TEXT NOT NULL DEFAULT '',        -- the title as its own page shows it, when known
    episode_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, slug)
);

-- Every searchable name of a title (display title and alternatives), normalized.
CREATE TABLE IF NOT EXISTS title_names (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    norm TEXT NOT NULL,
    is_primary INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS title_names_by_title ON title_names (site, slug);
CREATE INDEX IF NOT EXISTS title_names_by_norm ON title_names (norm);
CREATE VIRTUAL TABLE IF NOT EXISTS title_fts USING fts5 (norm, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE IF NOT EXISTS episodes (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    season INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    title_de TEXT NOT NULL,
    title_en TEXT NOT NULL,
    languages TEXT NOT NULL,                    -- comma-separated, e.g. "German Dub,German Sub"
    hosters TEXT NOT NULL,
    path TEXT NOT NULL,
    first_seen_at REAL NOT NULL,
    rev INTEGER NOT NULL,                       -- journal position of the details event that wrote it
    PRIMARY KEY (site, slug, season, episode)
) WITHOUT ROWID;  -- one b-tree instead of table + key index: episodes are most of the rows written

-- RSS sync (newest releases first) pages through this instead of sorting every episode.
CREATE INDEX IF NOT EXISTS episodes_by_first_seen ON episodes (first_seen_at, site, slug, season, episode);

CREATE TABLE IF NOT EXISTS details_failures (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    retry_at REAL NOT NULL,
    failed_at REAL NOT NULL,
    PRIMARY KEY (site, slug)
);

-- What a title's pages should have shown and did not ("episodes without a language"), per title and
-- kind; replaced whenever the title's details are recorded again. Health sums them per site.
CREATE TABLE IF NOT EXISTS parse_problems (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    detail TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (site, slug, kind)
);

-- Challenge pages a provider answered (Cloudflare, DDoS-Guard, captchas), counted per site and kind.
CREATE TABLE IF NOT EXISTS challenges (
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_at REAL NOT NULL,
    last_url TEXT NOT NULL,
    last_stage TEXT NOT NULL,
    PRIMARY KEY (site, kind)
);

-- The host name a site answered under last, when it is not the configured one (s.to's several names).
CREATE TABLE IF NOT EXISTS provider_hosts (
    site TEXT PRIMARY KEY,
    base_url TEXT NOT NULL,
    previous TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_at REAL NOT NULL
);

-- Canonical mapping (TVDB for series, IMDb/TMDB for movies); overrides win.
CREATE TABLE IF NOT EXISTS canonical (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    status TEXT NOT NULL,                       -- matched, unmatched, ambiguous, movie, failed
    tvdb_id INTEGER,
    tvdb_title TEXT,
    imdb_id TEXT,
    tmdb_id INTEGER,
    year INTEGER,
    confidence REAL,
    source TEXT,
    reason TEXT NOT NULL DEFAULT '',
    details_hash TEXT NOT NULL DEFAULT '',
    retry_at REAL,
    PRIMARY KEY (site, slug)
);
CREATE INDEX IF NOT EXISTS canonical_by_tvdb ON canonical (tvdb_id);
CREATE INDEX IF NOT EXISTS canonical_by_imdb ON canonical (imdb_id);

CREATE TABLE IF NOT EXISTS canonical_overrides (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    tvdb_id INTEGER NOT NULL,
    PRIMARY KEY (site, slug)
);

CREATE TABLE IF NOT EXISTS episode_map (
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    season INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    tvdb_season INTEGER NOT NULL,
    tvdb_episode INTEGER NOT NULL,
    absolute INTEGER,
    PRIMARY KEY (site, slug, season, episode)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS episode_map_by_tvdb ON episode_map (site, slug, tvdb_season, tvdb_episode);
CREATE INDEX IF NOT EXISTS episode_map_by_absolute ON episode_map (site, slug, absolute);
