-- PostgreSQL dialect of ../0009_scheduled_events.sql (the same column and constraint).
-- Marquee schema, version 9: whether a server mirrors the releases it follows into Discord Scheduled Events.
ALTER TABLE guild_settings ADD COLUMN events_enabled INTEGER NOT NULL DEFAULT 0 CHECK (events_enabled IN (0, 1));
