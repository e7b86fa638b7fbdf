"""Past one process: two real bot processes of two shards each, on one PostgreSQL database, against the
loopback Discord (which routes each server's events to its shard's session). Commands are answered once;
a countdown wave goes out once per channel with one process SIGKILLed in the middle and restarted, inside
the token's budget; a PostgreSQL restart mid-run loses and doubles nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal

import pytest

from playground.loopback import LoopbackDiscord
from playground.session import add_demo_server
from tests import stores
from tests.e2e.test_crash import rows, start, subscribe_in_ten_days, until

pytestmark = [pytest.mark.postgresql, pytest.mark.asyncio(loop_scope="session")]

SHARDS = 4


def servers_on_every_shard(dc: LoopbackDiscord) -> dict[int, object]:
    """One demo server per shard (guild ids are snowflakes: their shard follows their timestamp)."""
    found: dict[int, object] = {}
    n = 0
    while len(found) < SHARDS:
        n += 1
        assert n < 200, "could not place a server on every shard"
        server = add_demo_server(dc, f"Shard Fans {n}")
        found.setdefault(dc.shard_of(server.guild, SHARDS), server)
    return found


def own_posts(dc, channel):
    return dc.messages(channel, include_interactions=False)


async def test_two_processes_of_two_shards_each_post_every_countdown_once(tmp_path):
    async with LoopbackDiscord() as dc:
        dc.max_concurrency = SHARDS  # each shard its own identify bucket: all four start at once
        servers = servers_on_every_shard(dc)
        guilds = ",".join(str(s.guild.id) for s in servers.values())

        def launch(name: str, ids: str):
            return start(dc, tmp_path, servers[0].guild.id, name, MARQUEE_DEV_GUILD=guilds,
                         MARQUEE_SHARD_COUNT=str(SHARDS), MARQUEE_SHARD_IDS=ids, MARQUEE_LEASE_SECONDS="2")

        a = await launch("a", "0-1")
        b = await launch("b", "2-3")
        processes = [a, b]
        try:
            await dc.wait_until(lambda: len([s for s in dc.sessions if s.connected]) == SHARDS, timeout=60)
            assert sorted(s.shard for s in dc.sessions) == [(i, SHARDS) for i in range(SHARDS)]
            assert dc.identify_violations == 0
            for server in servers.values():
                await dc.wait_for_commands(server.guild, timeout=60)

            # Each command reaches one process (its shard's), and is answered once.
            for server in servers.values():
                r = await dc.run_command(server.guild, server.general, server.member, "release",
                                         {"title": "ballerina"})
                assert r.error is None and "Ballerina" in r.message.text
                callbacks = dc.requests_to("POST", f"/interactions/{r.payload['id']}/")
                assert [q.status for q in callbacks] == [200]

            # A wave: every server counts down in three channels; all of it falls due at once.
            channels = []
            for shard, server in servers.items():
                extra = [server.guild.add_text_channel(f"wave-{shard}-{i}") for i in range(2)]
                await asyncio.sleep(0.1)  # CHANNEL_CREATE reaches the shard's process
                targets = [server.channels["release-news"], *extra]
                await subscribe_in_ten_days(dc, server, f"Wave {shard}", targets)
                channels += targets
            # One of process a's posts is created by Discord but its answer is held back: a is killed then.
            held = servers[0].channels["release-news"]
            dc.slow(f"/channels/{held.id}/messages", 60, after=True)
            due = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat(timespec="seconds")
            stores.execute(tmp_path / "bot.sqlite3", "UPDATE deliveries SET due_at = ? WHERE state = 'pending'",
                           (due,))
            await until(lambda: own_posts(dc, held), seconds=30)
            a.send_signal(signal.SIGKILL)
            await asyncio.wait_for(a.wait(), 30)
            dc.clear_faults()  # Discord answers again
            a = await launch("a2", "0-1")
            processes.append(a)
            await until(lambda: all(own_posts(dc, c) for c in channels), seconds=60)
            unsent = "SELECT id, state, note, error FROM deliveries WHERE state NOT IN ('sent', 'cancelled')"
            try:
                await until(lambda: not rows(tmp_path, unsent), seconds=30)
            except AssertionError:
                raise AssertionError(rows(tmp_path, unsent)) from None
            await asyncio.sleep(1.0)
            assert {c.id: len(own_posts(dc, c)) for c in channels} == {c.id: 1 for c in channels}

            # A PostgreSQL restart mid-run: both processes reconnect; the next command and post go out once.
            await asyncio.to_thread(stores.SERVER.restart)
            server = servers[3]
            r = await dc.run_command(server.guild, server.general, server.admin, "catalog add-title",
                                     {"title": "After The Restart"})
            assert r.error is None and "After The Restart" in r.message.text, r.message.text
            late = server.guild.add_text_channel("after-restart")
            await asyncio.sleep(0.1)
            await subscribe_in_ten_days(dc, server, "Restart Wave", [late])
            stores.execute(tmp_path / "bot.sqlite3", "UPDATE deliveries SET due_at = ? WHERE state = 'pending'",
                           (due,))
            await until(lambda: own_posts(dc, late), seconds=30)
            await asyncio.sleep(1.0)
            assert len(own_posts(dc, late)) == 1
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(process.wait(), 30)
        # Inside the token's budget: no global 429 was caused.
        global_429 = [q for q in dc.requests if q.status == 429
                      and (q.response_headers or {}).get("X-RateLimit-Global")]
        assert global_429 == []
        for name in ("a2", "b"):
            log = (tmp_path / f"{name}.log").read_text()
            assert "Traceback" not in log, log[-3000:]
            assert "now dispatches countdowns" in log
