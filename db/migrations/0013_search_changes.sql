-- Marquee schema, version 13: what the search indexes must pick up.
--
-- search_changes   one row per global title or person whose search entry may have changed: the row
--                  itself (added, renamed, removed), its aliases, or (titles) its releases, which give
--                  the year autocomplete shows. Written by triggers, so every writer is seen: packs,
--                  edits, TMDB imports, another process. A running bot applies the rows after the last
--                  one it read to its index in memory instead of building the index again.
-- Only the newest 100,000 rows are kept (pruned every 1,000); meta 'search_changes.pruned' says up to
-- which id rows are gone, so a reader further behind than that knows to start over.

CREATE TABLE search_changes (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('title', 'person')),
    slug TEXT NOT NULL
) STRICT;

CREATE TRIGGER search_changes_prune AFTER INSERT ON search_changes WHEN NEW.id % 1000 = 0
BEGIN
    DELETE FROM search_changes WHERE id <= NEW.id - 100000;
    INSERT INTO meta (key, value) VALUES ('search_changes.pruned', CAST(NEW.id - 100000 AS TEXT))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
END;

CREATE TRIGGER titles_search_insert AFTER INSERT ON titles WHEN NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug) VALUES ('title', NEW.slug);
END;
CREATE TRIGGER titles_search_update AFTER UPDATE OF slug, name, guild_id ON titles
WHEN OLD.slug IS NOT NEW.slug OR OLD.name IS NOT NEW.name OR OLD.guild_id IS NOT NEW.guild_id
BEGIN
    INSERT INTO search_changes (kind, slug) SELECT 'title', OLD.slug WHERE OLD.guild_id IS NULL;
    INSERT INTO search_changes (kind, slug) SELECT 'title', NEW.slug WHERE NEW.guild_id IS NULL;
END;
CREATE TRIGGER titles_search_delete AFTER DELETE ON titles WHEN OLD.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug) VALUES ('title', OLD.slug);
END;

CREATE TRIGGER title_aliases_search_insert AFTER INSERT ON title_aliases WHEN NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id = NEW.title_id AND guild_id IS NULL;
END;
CREATE TRIGGER title_aliases_search_update AFTER UPDATE ON title_aliases
WHEN OLD.guild_id IS NULL OR NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id IN (OLD.title_id, NEW.title_id) AND guild_id IS NULL;
END;
-- A title removed with its aliases (ON DELETE CASCADE) is already gone here; its own trigger says so.
CREATE TRIGGER title_aliases_search_delete AFTER DELETE ON title_aliases WHEN OLD.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id = OLD.title_id AND guild_id IS NULL;
END;

CREATE TRIGGER releases_search_insert AFTER INSERT ON releases WHEN NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id = NEW.title_id AND guild_id IS NULL;
END;
CREATE TRIGGER releases_search_update AFTER UPDATE OF date, title_id, guild_id ON releases
WHEN (OLD.guild_id IS NULL OR NEW.guild_id IS NULL)
     AND (OLD.date IS NOT NEW.date OR OLD.title_id IS NOT NEW.title_id OR OLD.guild_id IS NOT NEW.guild_id)
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id IN (OLD.title_id, NEW.title_id) AND guild_id IS NULL;
END;
CREATE TRIGGER releases_search_delete AFTER DELETE ON releases WHEN OLD.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'title', slug FROM titles WHERE id = OLD.title_id AND guild_id IS NULL;
END;

CREATE TRIGGER people_search_insert AFTER INSERT ON people WHEN NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug) VALUES ('person', NEW.slug);
END;
CREATE TRIGGER people_search_update AFTER UPDATE OF slug, name, guild_id ON people
WHEN OLD.slug IS NOT NEW.slug OR OLD.name IS NOT NEW.name OR OLD.guild_id IS NOT NEW.guild_id
BEGIN
    INSERT INTO search_changes (kind, slug) SELECT 'person', OLD.slug WHERE OLD.guild_id IS NULL;
    INSERT INTO search_changes (kind, slug) SELECT 'person', NEW.slug WHERE NEW.guild_id IS NULL;
END;
CREATE TRIGGER people_search_delete AFTER DELETE ON people WHEN OLD.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug) VALUES ('person', OLD.slug);
END;

CREATE TRIGGER person_aliases_search_insert AFTER INSERT ON person_aliases WHEN NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'person', slug FROM people WHERE id = NEW.person_id AND guild_id IS NULL;
END;
CREATE TRIGGER person_aliases_search_update AFTER UPDATE ON person_aliases
WHEN OLD.guild_id IS NULL OR NEW.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'person', slug FROM people WHERE id IN (OLD.person_id, NEW.person_id) AND guild_id IS NULL;
END;
CREATE TRIGGER person_aliases_search_delete AFTER DELETE ON person_aliases WHEN OLD.guild_id IS NULL
BEGIN
    INSERT INTO search_changes (kind, slug)
        SELECT 'person', slug FROM people WHERE id = OLD.person_id AND guild_id IS NULL;
END;
