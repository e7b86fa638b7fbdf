-- Marquee schema, version 3: countdown subscriptions and their deliveries.
--
-- A subscription follows one release of a title (region + medium, resolved when it is created):
-- a channel's countdown posts (kind 'channel'), or a member's DM on release day (kind 'dm').
-- Each (subscription, release, milestone) has exactly one delivery row: claimed in a transaction,
-- sent with a nonce derived from the row, and marked sent with the message id. A crash between
-- sending and recording leaves a claimed row whose retry reuses the nonce, so Discord returns the
-- first message instead of posting a second.

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('channel', 'dm')),
    channel_id    INTEGER,        -- kind 'channel'
    user_id       INTEGER,        -- kind 'dm'
    title_id      INTEGER NOT NULL REFERENCES titles (id) ON DELETE CASCADE,
    region        TEXT NOT NULL,
    medium        TEXT NOT NULL,
    milestones    TEXT NOT NULL,  -- canonical, e.g. '30d,14d,7d,3d,1d,0'
    role_id       INTEGER,        -- the one role a post may ping (NULL: nobody)
    created_by    INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    paused_reason TEXT,
    paused_at     TEXT,
    CHECK ((kind = 'channel') = (channel_id IS NOT NULL)),
    CHECK ((kind = 'dm') = (user_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX subscriptions_channel ON subscriptions (channel_id, title_id) WHERE kind = 'channel';
CREATE UNIQUE INDEX subscriptions_dm ON subscriptions (guild_id, user_id, title_id) WHERE kind = 'dm';
CREATE INDEX subscriptions_title ON subscriptions (title_id);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    release_id      INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    milestone       TEXT NOT NULL,  -- '30d', '12h', '15m', '0', or 'moved:<release_moves.id>'
    due_at          TEXT NOT NULL,  -- ISO 8601 UTC
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'claimed', 'sent', 'skipped', 'failed', 'cancelled')),
    batch           TEXT,           -- the nonce of the message that carries it (set when claimed)
    attempts        INTEGER NOT NULL DEFAULT 0,
    retry_at        TEXT,
    message_id      INTEGER,
    late            INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    updated_at      TEXT,
    UNIQUE (subscription_id, release_id, milestone)
) STRICT;
CREATE INDEX deliveries_due ON deliveries (state, due_at);
CREATE INDEX deliveries_batch ON deliveries (batch);

-- A title's releases in date order (a person's credits are ordered by their titles' first release).
CREATE INDEX releases_title ON releases (title_id, date);

-- How far the scheduler has read release_moves.
INSERT INTO meta (key, value) VALUES ('scheduler.moves_seen', '0');
