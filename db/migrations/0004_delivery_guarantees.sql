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

CREATE TABLE deliveries_v4 (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    release_id       INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    milestone        TEXT NOT NULL,  -- '30d@2027-03-14', '12h@2027-03-14T19:00', or 'moved:<release_moves.id>'
    due_at           TEXT NOT NULL,  -- ISO 8601 UTC
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'claimed', 'sent', 'skipped', 'failed', 'cancelled', 'uncertain')),
    batch            TEXT,           -- the nonce (and marker) of the message that carries it
    attempts         INTEGER NOT NULL DEFAULT 0,
    retry_at         TEXT,
    message_id       INTEGER,
    late             INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    updated_at       TEXT,
    first_attempt_at TEXT,
    note             TEXT,
    UNIQUE (subscription_id, release_id, milestone)
) STRICT;

INSERT INTO deliveries_v4 (id, subscription_id, release_id, milestone, due_at, state, batch, attempts, retry_at,
                           message_id, late, error, updated_at, first_attempt_at)
SELECT id, subscription_id, release_id, milestone, due_at, state, batch, attempts, retry_at, message_id, late, error,
       updated_at, CASE WHEN state = 'claimed' THEN updated_at END
FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (state, due_at);
CREATE INDEX deliveries_batch ON deliveries (batch);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, due_at);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE TABLE dm_blocks (
    user_id    INTEGER PRIMARY KEY,
    until      TEXT NOT NULL,
    reason     TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('catalog.version', '0') ON CONFLICT (key) DO NOTHING;
