-- Marquee schema, version 12: countdowns into threads and forum channels.
--
-- subscriptions.channel_type   Discord's type of the channel posted to, as it was when the countdown was
--                              added: 0 text, 5 announcement, 10/11/12 a thread, 15 a forum (16 media).
-- subscriptions.post_id        a forum countdown's own post (the thread its first post created; NULL until
--                              then, and again after the post was deleted): later posts go into it.
ALTER TABLE subscriptions ADD COLUMN channel_type INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN post_id INTEGER;
