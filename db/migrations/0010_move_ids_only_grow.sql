-- Marquee schema, version 10: a move's id is never used twice.
--
-- The dispatcher reads release_moves after a cursor in meta (the last move id it handled). SQLite hands out
-- the highest rowid + 1, so after a delete of the newest moves (a server removing its own title takes the
-- title's moves with it) the next move got an id at or below the cursor and was never announced.
-- AUTOINCREMENT ids only grow; the counter starts past every move and every cursor already stored.
CREATE TABLE release_moves_v10 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id  INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    guild_id    INTEGER,
    old_date    TEXT,
    old_time    TEXT,
    old_tz      TEXT,
    new_date    TEXT,
    new_time    TEXT,
    new_tz      TEXT,
    moved_at    TEXT NOT NULL
) STRICT;
INSERT INTO release_moves_v10 (id, release_id, guild_id, old_date, old_time, old_tz, new_date, new_time, new_tz,
                               moved_at)
    SELECT id, release_id, guild_id, old_date, old_time, old_tz, new_date, new_time, new_tz, moved_at
    FROM release_moves;
DROP TABLE release_moves;
ALTER TABLE release_moves_v10 RENAME TO release_moves;
CREATE INDEX release_moves_release ON release_moves (release_id, id);
DELETE FROM sqlite_sequence WHERE name IN ('release_moves', 'release_moves_v10');
INSERT INTO sqlite_sequence (name, seq) VALUES ('release_moves', max(
    coalesce((SELECT max(id) FROM release_moves), 0),
    coalesce((SELECT max(CAST(value AS INTEGER)) FROM meta WHERE key LIKE 'scheduler.moves_seen%'), 0)));
