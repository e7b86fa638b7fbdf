"""`marquee db copy --to postgresql://…`: every row of a SQLite store, into an empty PostgreSQL database.

One transaction on the target: either every row arrives, with its id (so subscriptions, deliveries and
their nonces stay what they were), and the counts are checked table by table, or nothing does.
"""

from __future__ import annotations

from typing import Any

from db.store import Store, StoreError

# Parents before children (foreign keys); every table of the schema, meta included.
TABLES = (
    "meta", "packs", "sources", "franchises", "titles", "title_aliases", "people", "person_aliases", "releases",
    "release_history", "credits", "watch_offers", "guild_settings", "title_overrides", "credit_suppressions",
    "audit_log", "release_moves", "subscriptions", "deliveries", "leases", "dm_blocks", "tmdb_links", "tmdb_usage",
)
BATCH = 5000


async def counts(store: Store) -> dict[str, int]:
    return {table: int((await store.fetchone(f"SELECT count(*) FROM {table}"))[0]) for table in TABLES}


async def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every row; returns the row count of each table (the same on both sides, checked)."""
    if await source.version() != await target.version():
        raise StoreError(f"the two stores are at different schema versions ({await source.version()} and "
                         f"{await target.version()}): run `marquee db migrate` on the older one first")
    before = await counts(target)
    used = [table for table, n in before.items() if n and table != "meta"]
    if used:
        raise StoreError(f"the target database already holds Marquee data ({', '.join(used[:4])}…); copy into a "
                         "new, empty database (createdb), so that nothing is mixed or lost")
    if source.dialect != "sqlite":
        raise StoreError("copy reads a SQLite store (MARQUEE_DATABASE must be its file)")
    # The source's write lock for the whole copy: a bot still running on it cannot change a row meanwhile.
    async with source.transaction(catalog=False):
        return await _copy(source, target)


async def _copy(source: Store, target: Store) -> dict[str, int]:
    expected = await counts(source)
    async with target.transaction(catalog=False) as conn:
        await conn.execute("DELETE FROM meta")  # the migrations' own rows: the source's win
        for table in TABLES:
            columns: list[str] | None = None
            offset = 0
            while True:
                rows = await source.fetchall(f"SELECT * FROM {table} ORDER BY rowid LIMIT ? OFFSET ?",
                                             (BATCH, offset))
                if not rows:
                    break
                columns = columns or list(rows[0].keys())
                marks = ", ".join("?" for _ in columns)
                await conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                       [tuple(row) for row in rows])
                offset += len(rows)
            if columns and "id" in columns and target.dialect == "postgresql":
                # Rows came with their ids: new rows must be numbered after them.
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"coalesce(max(id), 0) + 1, false) FROM {table}")
        copied: dict[str, Any] = {}
        for table in TABLES:
            async with conn.execute(f"SELECT count(*) FROM {table}") as cur:
                copied[table] = int((await cur.fetchone())[0])
        if copied != expected:  # raising here rolls the whole copy back
            wrong = [f"{t}: {expected[t]} → {copied[t]}" for t in TABLES if copied[t] != expected[t]]
            raise StoreError(f"the copy did not match the source ({'; '.join(wrong)}); nothing was written")
    return expected
