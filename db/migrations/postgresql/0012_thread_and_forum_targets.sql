-- PostgreSQL dialect of ../0012_thread_and_forum_targets.sql (the same columns).
-- Marquee schema, version 12: countdowns into threads and forum channels.
ALTER TABLE subscriptions ADD COLUMN channel_type INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN post_id BIGINT;
