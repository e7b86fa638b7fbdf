import sqlite3

import asyncpg
import pytest

from db import packs
from db.store import Store, StoreError, load_migrations
from tests.conftest import NOW

INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def test_migrations_are_numbered_without_gaps():
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    # Every migration has its PostgreSQL dialect, with the same number and name.
    assert [m.name for m in load_migrations("postgresql")] == [m.name for m in migrations]


async def test_a_fresh_store_is_at_the_latest_version_and_checks_ok(tmp_path):
    async with Store.open(tmp_path / "fresh.sqlite3") as store:
        assert await store.version() == load_migrations()[-1].version
        result = await store.check()
        assert result.ok, result.problems


@pytest.mark.sqlite_only
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
        assert (await store.fetchone("SELECT count(*) FROM titles"))[0] == len(john_wick_pack["titles"])


@pytest.mark.sqlite_only
async def test_partially_migrated_database_is_brought_forward(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    async with Store.open(path) as store:
        assert await store.version() == load_migrations()[-1].version


@pytest.mark.sqlite_only
async def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="newer than this Marquee"):
        async with Store.open(path):
            pass


async def test_failed_write_rolls_back(store):
    with pytest.raises(INTEGRITY_ERRORS):
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            await conn.execute("INSERT INTO meta (key, value) VALUES ('a', '2')")
    assert await store.get_meta("a") is None


@pytest.mark.sqlite_only
async def test_online_backup_of_a_live_database(loaded, tmp_path):
    target = tmp_path / "backup.sqlite3"
    await loaded.backup(target)
    async with Store.open(target) as copy:
        assert (await copy.fetchone("SELECT count(*) FROM people"))[0] == 65
        assert (await copy.check()).ok
    with pytest.raises(StoreError, match="already exists"):
        await loaded.backup(target)


async def test_one_dispatcher_lease_per_store(tmp_path):
    import datetime as dt

    from db import leases

    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    ttl = dt.timedelta(seconds=30)
    async with Store.open(tmp_path / "a.sqlite3") as first, Store.open(tmp_path / "a.sqlite3") as second:
        assert await leases.acquire(first, leases.DISPATCHER, "a", now, ttl)
        assert not await leases.acquire(second, leases.DISPATCHER, "b", now + dt.timedelta(seconds=10), ttl)
        assert await leases.acquire(first, leases.DISPATCHER, "a", now + dt.timedelta(seconds=10), ttl)  # renewed
        assert not await leases.acquire(second, leases.DISPATCHER, "b", now + dt.timedelta(seconds=39), ttl)
        # "a" stopped renewing: "b" takes over once the lease has expired.
        assert await leases.acquire(second, leases.DISPATCHER, "b", now + dt.timedelta(seconds=40), ttl)
        assert (await leases.current(first, leases.DISPATCHER)).owner == "b"
        assert not await leases.acquire(first, leases.DISPATCHER, "a", now + dt.timedelta(seconds=41), ttl)
        # A holder known to be dead is taken over before its lease runs out.
        assert await leases.acquire(second, leases.DISPATCHER, "c", now + dt.timedelta(seconds=41), ttl,
                                    take_from="b")
        assert not await leases.acquire(first, leases.DISPATCHER, "b", now + dt.timedelta(seconds=41), ttl,
                                        take_from="a")  # take_from names the holder, not just anyone
        await leases.release(second, leases.DISPATCHER, "c")
        assert await leases.acquire(first, leases.DISPATCHER, "a", now + dt.timedelta(seconds=42), ttl)


async def test_countdown_bookkeeping_does_not_move_the_catalog_version(store):
    before = await store.version_token(max_age=0)
    await store.set_meta("scheduler.moves_seen", "5")
    async with store.transaction(catalog=False) as conn:
        await conn.execute("INSERT INTO leases (name, owner, expires_at) VALUES ('x', 'y', 'z')")
    assert await store.version_token(max_age=0) == before
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    after = await store.version_token(max_age=0)
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1
