-- Marquee schema, version 8: each server's calendar feed.
--
-- calendar_feeds   the unguessable token in a server's feed URL (`marquee run` with MARQUEE_WEB_PORT
--                  serves /calendar/<guild id>/<token>.ics); an admin's /settings calendar-reset gives a new
--                  one, and the old URL stops working.
CREATE TABLE calendar_feeds (
    guild_id   INTEGER PRIMARY KEY,
    token      TEXT NOT NULL CHECK (length(token) >= 20),
    created_at TEXT NOT NULL,
    created_by INTEGER
) STRICT;
