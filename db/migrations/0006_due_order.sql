-- Marquee schema, version 6: the dispatcher's index names its whole sort order.
--
-- The dispatcher asks for the due deliveries "ORDER BY due_at, id LIMIT 500". An index on (state, due_at)
-- serves that order in SQLite (every index ends with the rowid), but not in PostgreSQL, which then sorts
-- every due row of a 100,000-delivery wave for each chunk of 500. With id in the index both stores walk it
-- in order and stop at the limit.
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX deliveries_due ON deliveries (state, due_at, id);
