-- Marquee schema, version 7: a server's posting hour is a time of day (HH:MM), not only an hour.
--
-- guild_settings.posting_minute   the minutes of the posting time (`/settings posting-hour hour:18:30`);
--                                 day milestones post at posting_hour:posting_minute in the server's zone.
ALTER TABLE guild_settings ADD COLUMN posting_minute INTEGER NOT NULL DEFAULT 0
    CHECK (posting_minute BETWEEN 0 AND 59);
