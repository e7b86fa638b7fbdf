import sqlite3

import pytest

from db import packs
from db.store import Store, StoreError, load_migrations
from tests.conftest import NOW


def test_migrations_are_numbered_without_gaps():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


async def test_empty_database_migrates_to_latest(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    async with Store.open(path) as store:
        assert await store.version() == load_migrations()[-1].version
        result = await store.check()
        assert result.ok, result.problems
        mode = await store.fetchone("PRAGMA journal_mode")
        assert mode[0] == "wal"
        assert (await store.fetchone("PRAGMA foreign_keys"))[0] == 1


async def test_existing_database_keeps_its_data_when_reopened(tmp_path, john_wick_pack):
    path = tmp_path / "existing.sqlite3"
    async with Store.open(path) as store:
        await packs.load_pack(store, john_wick_pack, now=NOW)
    async with Store.open(path) as store:
        start, end = await store.migrate()
        assert start == end
        assert (await store.fetchone("SELECT count(*) FROM titles"))[0] == 7


async def test_partially_migrated_database_is_brought_forward(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    async with Store.open(path) as store:
        assert await store.version() == load_migrations()[-1].version


async def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="newer than this Marquee"):
        async with Store.open(path):
            pass


async def test_failed_write_rolls_back(store):
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '2')")
    assert await store.get_meta("a") is None


async def test_online_backup_of_a_live_database(loaded, tmp_path):
    target = tmp_path / "backup.sqlite3"
    await loaded.backup(target)
    async with Store.open(target) as copy:
        assert (await copy.fetchone("SELECT count(*) FROM people"))[0] == 45
        assert (await copy.check()).ok
    with pytest.raises(StoreError, match="already exists"):
        await loaded.backup(target)
