-- Marquee schema, version 9: whether a server mirrors the releases it follows into Discord Scheduled Events.
--
-- guild_settings.events_enabled   /settings events enabled:true. The events themselves live in Discord and
--                                 are found again by the marker in their description (bot/events.py).
ALTER TABLE guild_settings ADD COLUMN events_enabled INTEGER NOT NULL DEFAULT 0 CHECK (events_enabled IN (0, 1));
