-- PostgreSQL dialect of ../0006_due_order.sql (the same index).
-- Marquee schema, version 6: the dispatcher's index names its whole sort order.
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX deliveries_due ON deliveries (state, due_at, id);
