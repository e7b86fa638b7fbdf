-- PostgreSQL dialect of ../0005_tmdb.sql (same tables, columns and constraints).
-- Marquee schema, version 5: data that stays true.
--
-- titles.runtime   minutes, when known (packs and TMDB carry it).
-- tmdb_links       a pack built from TMDB (global, or one server's): what it was built from (a
--                  collection, a movie or a TV series), so `refresh-tmdb` and the running bot can
--                  rebuild it from TMDB and load it over the old one (same slugs, same rows).
-- tmdb_usage       TMDB requests made for one server on one UTC day (the per-server daily cap of
--                  /catalog import-tmdb).

ALTER TABLE titles ADD COLUMN runtime BIGINT CHECK (runtime IS NULL OR runtime > 0);

CREATE TABLE tmdb_links (
    pack_id        BIGINT PRIMARY KEY REFERENCES packs (id) ON DELETE CASCADE,
    guild_id       BIGINT,
    kind           TEXT NOT NULL CHECK (kind IN ('collection', 'movie', 'tv')),
    tmdb_id        BIGINT NOT NULL CHECK (tmdb_id > 0),
    franchise_slug TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,          -- 'cli' or 'user:<id>'
    refreshed_at   TEXT NOT NULL,
    last_error     TEXT
);
CREATE UNIQUE INDEX tmdb_links_owner_key ON tmdb_links (coalesce(guild_id, 0), kind, tmdb_id);

CREATE TABLE tmdb_usage (
    guild_id BIGINT NOT NULL,
    day      TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, day)
);
