-- PostgreSQL dialect of ../0004_delivery_guarantees.sql (same tables, columns and constraints).
-- Marquee schema, version 4: countdown promises on Discord as it really is.
--
-- deliveries gains:
--   first_attempt_at  when the nonce of the message that carries it was first used. Discord forgets a
--                     nonce after a few minutes: a retry older than that is never sent blind, the
--                     channel's history is checked for the bot's marker instead.
--   note              what became of it, in words (deleted in Discord before it was recorded, why it
--                     is uncertain, why it was skipped or failed).
--   state 'uncertain' a post that may or may not have gone out and cannot be checked: never resent.
--   late              0 on time, 1 the bot was offline when it was due, 2 Discord had an outage.
-- leases: one dispatcher per store (owner, expiry, renewed); a second process takes over when the
--   first stops renewing.
-- dm_blocks: members whose DMs are closed are not tried again before `until` (each attempt is an
--   invalid request in Discord's ban budget).
-- meta 'catalog.version': moved by every catalog change (not by countdown bookkeeping), so caches and
--   search indexes in every process rebuild only when the catalog changed.

-- (SQLite rebuilds the table to change a CHECK; PostgreSQL alters it in place.)
ALTER TABLE deliveries ADD COLUMN first_attempt_at TEXT, ADD COLUMN note TEXT;
UPDATE deliveries SET first_attempt_at = updated_at WHERE state = 'claimed';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'claimed', 'sent', 'skipped', 'failed', 'cancelled', 'uncertain'));
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, due_at);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE dm_blocks (
    user_id    BIGINT PRIMARY KEY,
    until      TEXT NOT NULL,
    reason     TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('catalog.version', '0') ON CONFLICT (key) DO NOTHING;
