-- PostgreSQL dialect of ../0007_posting_minute.sql (the same column and constraint).
-- Marquee schema, version 7: a server's posting hour is a time of day (HH:MM), not only an hour.
ALTER TABLE guild_settings ADD COLUMN posting_minute INTEGER NOT NULL DEFAULT 0
    CHECK (posting_minute BETWEEN 0 AND 59);
