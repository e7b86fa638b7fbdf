-- PostgreSQL dialect of ../0011_delivery_ids_only_grow.sql. PostgreSQL's sequences never hand out an id
-- twice, so deliveries needs no change here; the version is kept in step with SQLite's.
SELECT 1;
