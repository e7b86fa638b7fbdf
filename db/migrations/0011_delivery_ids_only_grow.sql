-- Marquee schema, version 11: a delivery's id is never used twice.
--
-- A countdown post's nonce (and the marker searched for in the channel's history) is made from the ids of
-- the deliveries it carries. SQLite hands out the highest rowid + 1, so removing a countdown whose rows were
-- the newest gave the next countdown's rows the same ids, and its first post the nonce of a post already
-- made: within Discord's nonce window Discord would answer with the old message and post nothing.
-- AUTOINCREMENT ids only grow (the counter starts past every id used so far).
CREATE TABLE deliveries_v11 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    release_id       INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    milestone        TEXT NOT NULL,  -- '30d@2027-03-14', '12h@2027-03-14T19:00', or 'moved:<release_moves.id>'
    due_at           TEXT NOT NULL,  -- UTC, ISO 8601
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'claimed', 'sent', 'skipped', 'failed', 'cancelled', 'uncertain')),
    batch            TEXT,           -- the nonce of the message that carries it
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
INSERT INTO deliveries_v11 (id, subscription_id, release_id, milestone, due_at, state, batch, attempts, retry_at,
                            message_id, late, error, updated_at, first_attempt_at, note)
    SELECT id, subscription_id, release_id, milestone, due_at, state, batch, attempts, retry_at, message_id, late,
           error, updated_at, first_attempt_at, note FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v11 RENAME TO deliveries;
CREATE INDEX deliveries_batch ON deliveries (batch);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, due_at);
CREATE INDEX deliveries_due ON deliveries (state, due_at, id);
DELETE FROM sqlite_sequence WHERE name IN ('deliveries', 'deliveries_v11');
INSERT INTO sqlite_sequence (name, seq) VALUES ('deliveries', coalesce((SELECT max(id) FROM deliveries), 0));
