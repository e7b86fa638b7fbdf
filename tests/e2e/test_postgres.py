"""PostgreSQL as the operator meets it: bad URLs, a database without the schema, several processes
migrating at once, backups through pg_dump, and a server restart while the bot runs.

These need the throwaway server: `python -m pytest --store=postgresql` (CI runs them)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from db import packs
from db.store import Store, StoreError, load_migrations
from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server, running_bot
from tests import stores

pytestmark = [pytest.mark.postgresql, pytest.mark.asyncio(loop_scope="session")]


async def marquee(tmp_path: Path, *args: str, database: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MARQUEE_"))}
    env.update({"MARQUEE_DATABASE": database, "MARQUEE_LOG_LEVEL": "WARNING"})
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, env=env, cwd=tmp_path,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def test_a_bad_database_url_is_one_line_naming_the_setting(tmp_path):
    server = stores.SERVER
    closed = stores._free_port()
    cases = {
        "postgresql://postgres@127.0.0.1:notaport/x": "MARQUEE_DATABASE",
        f"postgresql://postgres@127.0.0.1:{closed}/postgres": "cannot connect to MARQUEE_DATABASE",
        f"postgresql://secured:wrong-password@127.0.0.1:{server.port}/postgres":
            "PostgreSQL refused the password in MARQUEE_DATABASE",
        f"postgresql://postgres@127.0.0.1:{server.port}/no_such_database":
            "the database in MARQUEE_DATABASE does not exist",
    }
    for url, message in cases.items():
        code, out, err = await marquee(tmp_path, "db", "migrate", database=url)
        assert code == 2, (url, out, err)
        assert err.startswith("marquee: ") and message in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and "wrong-password" not in err


async def test_a_database_without_the_schema_is_reported_not_changed(tmp_path):
    url = stores.database(tmp_path / "empty.sqlite3")
    code, out, err = await marquee(tmp_path, "db", "check", database=url)
    assert code == 1 and f"schema version 0 of {load_migrations()[-1].version}: NOT OK" in out, out + err
    assert stores.rows(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


async def test_processes_starting_at_once_migrate_and_load_once(tmp_path):
    url = stores.database(tmp_path / "shared.sqlite3")
    results = await asyncio.gather(*(marquee(tmp_path, "db", "migrate", database=url) for _ in range(4)))
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    assert stores.rows(url, "SELECT max(version) FROM marquee_migrations") == [(load_migrations()[-1].version,)]
    assert stores.rows(url, "SELECT slug, version FROM packs") == [
        ("john-wick", packs.read_pack_file(packs.builtin_pack_paths()[0])["pack"]["version"])]


@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="needs pg_restore")
async def test_backup_goes_through_pg_dump(tmp_path):
    url = stores.database(tmp_path / "backed-up.sqlite3")
    assert (await marquee(tmp_path, "db", "migrate", database=url))[0] == 0
    code, out, err = await marquee(tmp_path, "db", "backup", str(tmp_path / "marquee.dump"), database=url)
    assert code == 0 and "backed up" in out, err
    listing = (await asyncio.to_thread(subprocess.run, ["pg_restore", "--list", str(tmp_path / "marquee.dump")],
                                       capture_output=True, text=True, check=True)).stdout
    assert "TABLE DATA public titles" in listing and "TABLE DATA public deliveries" in listing
    code, _, err = await marquee(tmp_path, "db", "backup", str(tmp_path / "marquee.dump"), database=url)
    assert code == 2 and "already exists" in err


async def test_writes_are_one_at_a_time_across_stores(tmp_path):
    """Two processes' stores on one database: a read-modify-write in each never interleaves."""
    path = tmp_path / "counter.sqlite3"
    async with Store.open(path) as first, Store.open(path) as second:
        await first.set_meta("counter", "0")

        async def bump(store: Store) -> None:
            for _ in range(20):
                async with store.transaction(catalog=False) as conn:
                    async with conn.execute("SELECT value FROM meta WHERE key = 'counter'") as cur:
                        value = int((await cur.fetchone())[0])
                    await asyncio.sleep(0)
                    await conn.execute("UPDATE meta SET value = ? WHERE key = 'counter'", (str(value + 1),))

        await asyncio.gather(bump(first), bump(second))
        assert await first.get_meta("counter") == "40"


async def test_a_restart_of_the_server_while_the_bot_runs(tmp_path):
    """The bot reconnects: the next command answers, the next write lands, nothing is lost."""
    async with LoopbackDiscord() as dc:
        server = add_demo_server(dc, "Restart Fans")
        async with running_bot(dc, database=tmp_path / "bot.sqlite3", guilds=(server.guild,)) as bot:
            r = await dc.run_command(server.guild, server.general, server.admin, "catalog add-title",
                                     {"title": "Before The Restart"})
            assert r.error is None and "Before The Restart" in r.message.text
            await asyncio.to_thread(stores.SERVER.restart)
            r = await dc.run_command(server.guild, server.general, server.admin, "catalog add-title",
                                     {"title": "After The Restart"})
            assert r.error is None and "After The Restart" in r.message.text, r.message.text
            r = await dc.run_command(server.guild, server.general, server.member, "release",
                                     {"title": "before the restart"})
            assert r.error is None
            titles = await bot.store.fetchall("SELECT name FROM titles WHERE guild_id = ? ORDER BY id",
                                              (server.guild.id,))
            assert [t["name"] for t in titles] == ["Before The Restart", "After The Restart"]


async def test_the_store_gives_up_clearly_when_the_server_stays_away(tmp_path, monkeypatch):
    from db import postgres

    monkeypatch.setattr(postgres, "RECONNECT_TRIES", 2)
    closed = stores._free_port()
    with pytest.raises(StoreError, match="cannot connect to MARQUEE_DATABASE"):
        async with Store.open(f"postgresql://postgres@127.0.0.1:{closed}/postgres"):
            pass


async def test_copy_moves_every_row_of_a_sqlite_store_to_postgresql(tmp_path):
    import datetime as dt

    from db import copy, edits
    from db.store import SqliteStore

    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    source_path = tmp_path / "small.sqlite3"
    async with SqliteStore.connect(source_path) as source:
        await packs.load_builtin_packs(source, now=now)
        editor = edits.Editor(source, 42, 7, now)
        await editor.set_settings(timezone="Europe/London", region="GB")
        slug = await editor.add_title(name="Fan Cut", kind="film", franchise="Fan Works")
        from db import queries

        title = await queries.get_title(source, slug, 42)
        await editor.set_release(title, region="GB", medium="theatrical", date=dt.date(2027, 3, 1))
        await editor.set_release(title, region="GB", medium="theatrical", date=dt.date(2027, 4, 1))
        expected = await copy.counts(source)
        exported = await packs.export_server(source, 42, "Fans")
    assert expected["release_moves"] == 1 and expected["audit_log"] >= 3

    url = stores.database(tmp_path / "target.sqlite3")
    env_db = str(source_path)
    code, out, err = await marquee(tmp_path, "db", "copy", "--to", url, database=env_db)
    assert code == 0, err
    assert out.startswith(f"copied {sum(expected.values()):,} rows to ") and "count checked" in out
    async with Store.open(url) as target:
        assert await copy.counts(target) == expected
        assert await packs.export_server(target, 42, "Fans") == exported
        editor = edits.Editor(target, 42, 7, now)  # new rows are numbered after the copied ones
        assert await editor.add_title(name="Second Cut", kind="film", franchise="Fan Works") == "second-cut"
    code, _, err = await marquee(tmp_path, "db", "copy", "--to", url, database=env_db)
    assert code == 2 and "already holds Marquee data" in err
    code, _, err = await marquee(tmp_path, "db", "copy", "--to", str(tmp_path / "x.sqlite3"), database=env_db)
    assert code == 2 and "postgresql:// URL" in err


async def test_a_change_in_one_process_wakes_the_others_at_once(tmp_path):
    """NOTIFY in the changing transaction: a new countdown or a moved date needs no polling to be seen."""
    path = tmp_path / "notify.sqlite3"
    async with Store.open(path) as first, Store.open(path) as second:
        woken = asyncio.Event()
        second.on_change(woken.set)
        await asyncio.sleep(0.3)  # the listener connects (and wakes once, in case it missed something)
        woken.clear()
        async with first.transaction(catalog=False) as conn:  # bookkeeping: nobody needs to know
            await conn.execute("INSERT INTO meta (key, value) VALUES ('quiet', '1')")
        await asyncio.sleep(0.3)
        assert not woken.is_set()
        async with first.transaction(catalog=False, notify=True) as conn:  # e.g. a new subscription
            await conn.execute("INSERT INTO meta (key, value) VALUES ('loud', '1')")
        await asyncio.wait_for(woken.wait(), 5)
        woken.clear()
        async with first.transaction() as conn:  # a catalog change
            await conn.execute("INSERT INTO meta (key, value) VALUES ('catalog', '1')")
        await asyncio.wait_for(woken.wait(), 5)
