-- Marquee schema, version 2: what a server's moderators keep.
--
-- A server owns rows with guild_id = its id (titles, people, releases, credits, offers, aliases).
-- Its corrections of global data never modify the global rows: a title's fields are overlaid from
-- title_overrides, a global release/offer is shadowed by the server's row with the same key, and a
-- global credit the server removed is listed in credit_suppressions.

CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    timezone          TEXT NOT NULL DEFAULT 'UTC',
    region            TEXT CHECK (region IS NULL OR (length(region) = 2 AND region = upper(region))),
    alerts_channel_id INTEGER,
    posting_hour      INTEGER NOT NULL DEFAULT 9 CHECK (posting_hour BETWEEN 0 AND 23),
    updated_at        TEXT,
    updated_by        INTEGER
) STRICT;

CREATE TABLE title_overrides (
    guild_id     INTEGER NOT NULL,
    title_id     INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    franchise_id INTEGER REFERENCES franchises (id),
    name         TEXT,
    kind         TEXT CHECK (kind IS NULL OR kind IN ('film', 'series', 'special', 'game')),
    status       TEXT CHECK (status IS NULL OR status IN
                 ('announced', 'filming', 'post-production', 'released', 'rumoured')),
    synopsis     TEXT,
    story_order  REAL,
    hidden       INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    PRIMARY KEY (guild_id, title_id)
) STRICT;

CREATE TABLE credit_suppressions (
    guild_id  INTEGER NOT NULL,
    credit_id INTEGER NOT NULL REFERENCES credits (id) ON DELETE CASCADE,
    PRIMARY KEY (guild_id, credit_id)
) STRICT;

-- Who changed what, when: written in the same transaction as the change. No foreign keys, so the
-- trail outlives what it describes.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    actor_id   INTEGER NOT NULL,
    at         TEXT NOT NULL,
    action     TEXT NOT NULL,
    title_slug TEXT,
    subject    TEXT,          -- e.g. 'US theatrical', a person's name, a provider
    field      TEXT,
    old        TEXT,
    new        TEXT
) STRICT;
CREATE INDEX audit_by_title ON audit_log (guild_id, title_slug, id);

-- Release moves, durable: the countdown scheduler consumes them (one "release moved" post per
-- subscribed channel). guild_id NULL: a global move (a pack update), seen by every server.
CREATE TABLE release_moves (
    id          INTEGER PRIMARY KEY,
    release_id  INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    guild_id    INTEGER,
    old_date    TEXT,
    old_time    TEXT,
    old_tz      TEXT,
    new_date    TEXT,
    new_time    TEXT,
    new_tz      TEXT,
    moved_at    TEXT NOT NULL
) STRICT;
CREATE INDEX release_moves_release ON release_moves (release_id, id);
