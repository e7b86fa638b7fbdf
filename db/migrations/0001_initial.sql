-- Marquee schema, version 1: the catalog.
--
-- Every row a server could own carries guild_id: NULL is global data (shipped packs and what the
-- operator imports), a number is that server's own. Slugs are unique per owner; the unique indexes
-- use ifnull(guild_id, 0) because SQLite treats NULLs as distinct in UNIQUE constraints.
-- Dates are ISO-8601 text (YYYY-MM-DD), times HH:MM, instants ISO-8601 UTC with offset.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Data packs loaded into the store (global ones have guild_id NULL).
CREATE TABLE packs (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    format     INTEGER NOT NULL,
    loaded_at  TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX packs_owner_slug ON packs (ifnull(guild_id, 0), slug);

CREATE TABLE sources (
    id       INTEGER PRIMARY KEY,
    pack_id  INTEGER NOT NULL REFERENCES packs (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    name     TEXT NOT NULL,
    detail   TEXT,
    UNIQUE (pack_id, key)
) STRICT;

CREATE TABLE franchises (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER,
    pack_id  INTEGER REFERENCES packs (id) ON DELETE SET NULL,
    slug     TEXT NOT NULL,
    name     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX franchises_owner_slug ON franchises (ifnull(guild_id, 0), slug);

CREATE TABLE titles (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER,
    pack_id      INTEGER REFERENCES packs (id) ON DELETE SET NULL,
    franchise_id INTEGER NOT NULL REFERENCES franchises (id),
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('film', 'series', 'special', 'game')),
    status       TEXT NOT NULL
                 CHECK (status IN ('announced', 'filming', 'post-production', 'released', 'rumoured')),
    story_order  REAL,
    synopsis     TEXT,
    source       TEXT,
    position     INTEGER NOT NULL DEFAULT 0  -- order within its pack (for export)
) STRICT;
CREATE UNIQUE INDEX titles_owner_slug ON titles (ifnull(guild_id, 0), slug);
CREATE INDEX titles_franchise ON titles (franchise_id);

CREATE TABLE title_aliases (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER,
    title_id INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    alias    TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX title_aliases_key ON title_aliases (title_id, ifnull(guild_id, 0), alias);

CREATE TABLE people (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER,
    pack_id  INTEGER REFERENCES packs (id) ON DELETE SET NULL,
    slug     TEXT NOT NULL,
    name     TEXT NOT NULL,
    bio      TEXT,
    source   TEXT,
    position INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX people_owner_slug ON people (ifnull(guild_id, 0), slug);

CREATE TABLE person_aliases (
    id        INTEGER PRIMARY KEY,
    guild_id  INTEGER,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    alias     TEXT NOT NULL,
    position  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX person_aliases_key ON person_aliases (person_id, ifnull(guild_id, 0), alias);

-- The current value of each release. Every value it has ever had, this one included, is in
-- release_history (append-only), so a date move keeps the old date.
CREATE TABLE releases (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER,
    title_id   INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    region     TEXT NOT NULL CHECK (length(region) = 2 AND region = upper(region)),
    medium     TEXT NOT NULL CHECK (medium IN ('theatrical', 'streaming', 'digital', 'physical', 'tv')),
    date       TEXT,
    time       TEXT,
    timezone   TEXT,
    precision  TEXT NOT NULL DEFAULT 'day' CHECK (precision IN ('day', 'month', 'year', 'unknown')),
    status     TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'tentative')),
    provider   TEXT,
    note       TEXT,
    source     TEXT,
    as_of      TEXT NOT NULL,
    CHECK ((date IS NULL) = (precision = 'unknown')),
    CHECK ((time IS NULL) = (timezone IS NULL))
) STRICT;
CREATE UNIQUE INDEX releases_owner_key ON releases (ifnull(guild_id, 0), title_id, region, medium);
CREATE INDEX releases_date ON releases (date);

CREATE TABLE release_history (
    id          INTEGER PRIMARY KEY,
    release_id  INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    date        TEXT,
    time        TEXT,
    timezone    TEXT,
    precision   TEXT NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT,
    source      TEXT,
    as_of       TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL  -- 'pack:<slug>@<version>' or 'user:<id>'
) STRICT;
CREATE INDEX release_history_release ON release_history (release_id, id);

CREATE TABLE credits (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER,
    title_id   INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('cast', 'crew')),
    character  TEXT,
    department TEXT CHECK (department IS NULL OR department IN
               ('directing', 'writing', 'production', 'camera', 'editing', 'sound', 'music', 'art',
                'costume', 'stunts', 'other')),
    job        TEXT,
    billing    INTEGER,
    note       TEXT,
    source     TEXT,
    position   INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'crew') = (job IS NOT NULL))
) STRICT;
CREATE INDEX credits_title ON credits (title_id, kind, billing);
CREATE INDEX credits_person ON credits (person_id);

CREATE TABLE watch_offers (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER,
    title_id    INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    region      TEXT NOT NULL CHECK (length(region) = 2 AND region = upper(region)),
    provider    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('stream', 'rent', 'buy')),
    price       TEXT,  -- a decimal string as published, e.g. '3.99'
    currency    TEXT,
    note        TEXT,
    source      TEXT,
    as_of       TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    CHECK ((price IS NULL) = (currency IS NULL))
) STRICT;
CREATE UNIQUE INDEX watch_owner_key ON watch_offers (ifnull(guild_id, 0), title_id, region, provider, kind);
