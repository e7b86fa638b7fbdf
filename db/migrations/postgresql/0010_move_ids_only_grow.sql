-- PostgreSQL dialect of ../0010_move_ids_only_grow.sql. PostgreSQL's sequences never hand out an id twice,
-- so release_moves needs no change here; the version is kept in step with SQLite's.
SELECT 1;
