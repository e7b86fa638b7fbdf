-- PostgreSQL dialect of ../0008_calendar_feeds.sql (the same table).
-- Marquee schema, version 8: each server's calendar feed.
CREATE TABLE calendar_feeds (
    guild_id   BIGINT PRIMARY KEY,
    token      TEXT NOT NULL CHECK (length(token) >= 20),
    created_at TEXT NOT NULL,
    created_by BIGINT
);
