"""The portable SQL of the query API, as PostgreSQL gets it (pure: no server needed)."""

from db.postgres import translate


def test_placeholders_become_numbered_outside_quotes():
    assert translate("SELECT * FROM t WHERE a = ? AND b = 'x?y' AND c = ?") == (
        "SELECT * FROM t WHERE a = $1 AND b = 'x?y' AND c = $2", ())
    assert translate("SELECT :a, :b, :a, 'it''s :not'") == ("SELECT $1, $2, $1, 'it''s :not'", ("a", "b"))
    assert translate("SELECT value::bigint") == ("SELECT value::bigint", ())


def test_sqlite_functions_become_postgresql_ones():
    sql, _ = translate("SELECT 1 FROM t WHERE ifnull(guild_id, 0) = ifnull(?, 0) AND ifnull(x, '') = ?")
    assert sql == "SELECT 1 FROM t WHERE coalesce(guild_id, 0) = coalesce($1::bigint, 0) AND coalesce(x, '') = $2"
    sql, names = translate("SELECT 1 WHERE s.guild_id IN (SELECT value FROM json_each(:held))")
    assert sql == "SELECT 1 WHERE s.guild_id IN (SELECT value::bigint FROM json_array_elements_text(CAST($1 AS json)))"
    assert names == ("held",)
