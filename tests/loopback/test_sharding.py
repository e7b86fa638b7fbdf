"""Sharding on the loopback Discord, as Discord does it (developers/events/gateway.mdx in
discord-api-docs): a guild's events go to shard (guild_id >> 22) % num_shards, events without a guild to
shard 0, a bad shard closes with 4010 and too few shards with 4011, GET /gateway/bot gives the
recommended shards and max_concurrency, and a rate-limit key (shard_id % max_concurrency) that starts two
sessions within 5 seconds gets op 9 INVALID_SESSION for the second.

Real discord.py clients (AutoShardedBot and plain Client), several in one test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord.ext import commands

from playground.loopback import Guild, LoopbackDiscord

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Seen:
    """What one client saw."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.interactions: list[int | None] = []  # guild id of each interaction (None: a DM)
        self.dms: list[int] = []  # message ids of DMs


def sharded_bot(seen: Seen, *, shard_ids: list[int] | None, shard_count: int | None,
                sync: bool = False, cls: type[commands.AutoShardedBot] = commands.AutoShardedBot,
                ) -> commands.AutoShardedBot:
    bot = cls(command_prefix="!", intents=discord.Intents.default(), shard_ids=shard_ids,
              shard_count=shard_count, guild_ready_timeout=0.1)

    @bot.tree.command(name="where", description="Says which shard answered")
    async def where(interaction: discord.Interaction) -> None:
        seen.interactions.append(interaction.guild_id)
        shard = interaction.guild.shard_id if interaction.guild else 0
        await interaction.response.send_message(f"shard {shard}")

    @bot.event
    async def on_ready() -> None:
        seen.ready.set()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.guild is None:
            seen.dms.append(message.id)

    if sync:
        async def setup_hook() -> None:
            await bot.tree.sync()

        bot.setup_hook = setup_hook
    return bot


@contextlib.asynccontextmanager
async def loopback() -> AsyncIterator[LoopbackDiscord]:
    async with LoopbackDiscord() as dc:
        undo = dc.patch_discord()  # Route.BASE and DiscordWebSocket.DEFAULT_GATEWAY, put back on exit
        try:
            yield dc
        finally:
            undo()


@contextlib.asynccontextmanager
async def started(dc: LoopbackDiscord, *clients: discord.Client) -> AsyncIterator[list[asyncio.Task]]:
    """Start the clients at the same moment; close them on exit."""
    tasks = [asyncio.create_task(c.start(dc.token)) for c in clients]
    try:
        yield tasks
    finally:
        for c in clients:
            await c.close()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 5)


async def guilds_on_both_shards(dc: LoopbackDiscord, per_shard: int = 2) -> dict[int, list[Guild]]:
    """Guilds until each of 2 shards has ``per_shard`` (a snowflake's shard changes with its millisecond)."""
    by_shard: dict[int, list[Guild]] = {0: [], 1: []}
    n = 0
    while min(len(v) for v in by_shard.values()) < per_shard:
        g = dc.add_guild(f"Guild {n}")
        n += 1
        by_shard[dc.shard_of(g, 2)].append(g)
        await asyncio.sleep(0.002)
    return by_shard


def buffered(session, event: str, guild_id: int) -> bool:
    """Whether the session was sent ``event`` about ``guild_id``."""
    return any(p["t"] == event and (p["d"].get("guild_id") or p["d"].get("id")) == str(guild_id)
               for p in session.buffer)


async def raw_identify(dc: LoopbackDiscord, shard: object) -> tuple[int | None, list[dict]]:
    """IDENTIFY with ``shard`` over a raw websocket: (close code or None, the frames received)."""
    frames: list[dict] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(dc.gateway_url) as ws:
        frames.append(await ws.receive_json())  # HELLO
        d = {"token": dc.token, "intents": 1, "properties": {}}
        if shard is not None:
            d["shard"] = shard
        await ws.send_json({"op": 2, "d": d})
        while True:
            msg = await asyncio.wait_for(ws.receive(), 5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(msg.json())
                if frames[-1].get("t") == "READY" or frames[-1].get("op") == 9:
                    await ws.close(code=1000)
                    return None, frames
            else:
                return ws.close_code, frames


async def get_gateway_bot(dc: LoopbackDiscord) -> dict:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {dc.token}"}) as s, \
            s.get(f"{dc.base_url}/gateway/bot") as resp:
        assert resp.status == 200
        return await resp.json()


# ---------------------------------------------------------------------------- routing


async def test_two_processes_each_run_one_shard_and_see_only_its_guilds() -> None:
    async with loopback() as dc:
        dc.max_concurrency = 2  # shards 0 and 1 are different rate-limit keys: they may start together
        by_shard = await guilds_on_both_shards(dc)
        user = dc.add_user("dmuser")
        seen0, seen1 = Seen(), Seen()
        bot0 = sharded_bot(seen0, shard_ids=[0], shard_count=2, sync=True)
        bot1 = sharded_bot(seen1, shard_ids=[1], shard_count=2)
        async with started(dc, bot0, bot1):
            await asyncio.wait_for(asyncio.gather(seen0.ready.wait(), seen1.ready.wait()), 10)
            await dc.wait_for_commands(None)
            assert dc.identify_violations == 0
            assert sorted(s.shard for s in dc.sessions) == [(0, 2), (1, 2)]
            session = {s.shard[0]: s for s in dc.sessions}

            # READY and GUILD_CREATE: each process has exactly its shard's guilds
            for bot, shard in ((bot0, 0), (bot1, 1)):
                assert {g.id for g in bot.guilds} == {g.id for g in by_shard[shard]}
                assert all(g.shard_id == shard for g in bot.guilds)
                ready = next(p for p in session[shard].buffer if p["t"] == "READY")
                assert ready["d"]["shard"] == [shard, 2]
                assert {int(g["id"]) for g in ready["d"]["guilds"]} == {g.id for g in by_shard[shard]}
            assert all(dc.shard_of(g) == s for s, gs in by_shard.items() for g in gs)

            # an interaction reaches only the process whose shard has the guild
            for shard, bot_seen, other_seen in ((0, seen0, seen1), (1, seen1, seen0)):
                g = by_shard[shard][0]
                ch = g.add_text_channel("general")
                r = await dc.run_command(g, ch, g.owner, "where")
                assert r.message.content == f"shard {shard}" and r.error is None
                assert bot_seen.interactions == [g.id] and other_seen.interactions == []
                bot_seen.interactions.clear()
                # ...and so does the channel it just got
                assert buffered(session[shard], "CHANNEL_CREATE", g.id)
                assert not buffered(session[1 - shard], "CHANNEL_CREATE", g.id)

            # a guild joined later, and its role changes, go to its shard only
            while True:
                joined = dc.add_guild("Joined later")
                if dc.shard_of(joined) == 1:
                    break
                await asyncio.sleep(0.002)
            await dc.wait_until(lambda: bot1.get_guild(joined.id) is not None)
            joined.add_role("Fans")
            assert buffered(session[1], "GUILD_ROLE_CREATE", joined.id)
            assert not buffered(session[0], "GUILD_CREATE", joined.id)
            assert not buffered(session[0], "GUILD_ROLE_CREATE", joined.id)
            assert bot0.get_guild(joined.id) is None

            # events without a guild (a DM command, a DM message) go to shard 0 only
            r = await dc.run_command(None, None, user, "where")
            assert r.message.content == "shard 0"
            assert seen0.interactions == [None] and seen1.interactions == []
            dm = dc.send_user_message(dc.dm_channel(user), user, "hello")
            await dc.wait_until(lambda: dm.id in seen0.dms)
            assert seen1.dms == []

            # removing a guild: GUILD_DELETE to its shard only
            gone = by_shard[0][1]
            dc.remove_guild(gone)
            await dc.wait_until(lambda: bot0.get_guild(gone.id) is None)
            assert not buffered(session[1], "GUILD_DELETE", gone.id)


async def test_unsharded_sessions_get_everything_and_shard_counts_may_differ() -> None:
    async with loopback() as dc:
        dc.max_concurrency = 4  # [1, 2] (key 1) and [3, 4] (key 3) may start together
        by_residue: dict[int, Guild] = {}
        while len(by_residue) < 4:
            g = dc.add_guild(f"Guild {len(dc.guilds)}")
            by_residue.setdefault(dc.shard_of(g, 4), g)
            await asyncio.sleep(0.002)
        async with aiohttp.ClientSession() as http:
            for shard in (None, [1, 2], [3, 4]):
                ws = await http.ws_connect(dc.gateway_url)
                await ws.receive_json()  # HELLO
                d = {"token": dc.token, "intents": 1, "properties": {}}
                if shard is not None:
                    d["shard"] = shard
                await ws.send_json({"op": 2, "d": d})
                assert (await ws.receive_json())["t"] == "READY"
            await dc.wait_until(lambda: len(dc.sessions) == 3)
            assert dc.identify_violations == 0
            unsharded, half, quarter = dc.sessions
            assert (unsharded.shard, half.shard, quarter.shard) == (None, (1, 2), (3, 4))
            assert [i.shard_id for i in dc.identifies] == [None, 1, 3]
            # "You can establish ... sessions with different num_shards values" (gateway.mdx, Sharding):
            # each session routes by its own count; a session without shard gets every guild
            for residue, g in by_residue.items():
                g.add_text_channel("general")
                assert buffered(unsharded, "CHANNEL_CREATE", g.id)
                assert buffered(half, "CHANNEL_CREATE", g.id) == (residue % 2 == 1)
                assert buffered(quarter, "CHANNEL_CREATE", g.id) == (residue == 3)
            ready = next(p for p in half.buffer if p["t"] == "READY")["d"]
            assert ready["shard"] == [1, 2]
            # every guild on shard 1 of 2 (more guilds than by_residue's may have been made to fill it)
            assert {int(g["id"]) for g in ready["guilds"]} == {g.id for g in dc.guilds if dc.shard_of(g, 2) == 1}
            assert "shard" not in next(p for p in unsharded.buffer if p["t"] == "READY")["d"]
            with pytest.raises(ValueError, match="different shard counts"):
                dc.shard_of(by_residue[0])


# ---------------------------------------------------------------------------- refusals


async def test_an_invalid_shard_is_closed_with_4010_and_too_few_shards_with_4011() -> None:
    async with loopback() as dc:
        dc.add_guild("Wick Fans")
        for bad in ([2, 2], [-1, 2], [0, 0], [3, 1], [0], "0,1"):
            code, _ = await raw_identify(dc, bad)
            assert code == 4010, bad
        assert dc.sessions == [] and dc.identifies == []

        # the real client: Client.start raises ConnectionClosed 4010 (not retried: it is not resumable)
        client = discord.Client(intents=discord.Intents.default(), shard_id=2, shard_count=2)
        async with started(dc, client) as (task,):
            with pytest.raises(discord.ConnectionClosed) as caught:
                await asyncio.wait_for(task, 10)
        assert caught.value.code == 4010

        dc.required_shards = 2  # "sharding required": the bot is in too many guilds for one session
        for few in ([0, 1], None):
            code, _ = await raw_identify(dc, few)
            assert code == 4011, few
        code, frames = await raw_identify(dc, [0, 2])
        assert code is None and frames[-1]["t"] == "READY"


async def test_gateway_bot_reports_recommended_shards_and_max_concurrency() -> None:
    class HonoursMaxConcurrency(commands.AutoShardedBot):
        """Waits only when its rate-limit key already started a session (discord.py always waits 5 s)."""

        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            limits = await self.fetch_session_start_limits()
            if not initial and (shard_id or 0) >= limits.max_concurrency:
                await asyncio.sleep(5.0)

    async with loopback() as dc:
        dc.recommended_shards, dc.max_concurrency = 2, 2
        await guilds_on_both_shards(dc, per_shard=1)
        info = await get_gateway_bot(dc)
        assert info["url"] == dc.gateway_url and info["shards"] == 2
        limit = info["session_start_limit"]
        assert limit["total"] == 1000 and limit["remaining"] == 1000 and limit["max_concurrency"] == 2
        assert 0 < limit["reset_after"] <= 86_400_000

        seen = Seen()
        bot = sharded_bot(seen, shard_ids=None, shard_count=None, cls=HonoursMaxConcurrency)  # asks /gateway/bot
        started_at = time.monotonic()
        async with started(dc, bot):
            await asyncio.wait_for(seen.ready.wait(), 10)
            assert time.monotonic() - started_at < 4  # no 5-second wait between the two shards
            assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
            assert sorted(s.shard for s in dc.sessions) == [(0, 2), (1, 2)]
            assert len(bot.guilds) == len(dc.guilds) and dc.identify_violations == 0
            after = await get_gateway_bot(dc)
            assert after["session_start_limit"]["remaining"] == 998


# ---------------------------------------------------------------------------- the identify rate limit


async def test_two_processes_identifying_one_bucket_at_once_are_caught() -> None:
    async with loopback() as dc:
        assert dc.max_concurrency == 1  # shards 0 and 1 share the one rate-limit key
        by_shard = await guilds_on_both_shards(dc, per_shard=1)
        seen0, seen1 = Seen(), Seen()
        first = discord.Client(intents=discord.Intents.default(), shard_id=0, shard_count=2,
                               guild_ready_timeout=0.1)
        second = discord.Client(intents=discord.Intents.default(), shard_id=1, shard_count=2,
                                guild_ready_timeout=0.1)
        first.event(_ready_setter(seen0))
        second.event(_ready_setter(seen1))
        async with started(dc, first, second):
            await dc.wait_until(lambda: dc.identify_violations > 0, timeout=5)
            assert dc.identify_violations == 1
            accepted, refused = sorted(dc.identifies, key=lambda i: i.session is None)
            assert refused.session is None and accepted.session is not None
            assert abs(refused.at - accepted.at) < 1  # at the same moment
            # Discord's answer is op 9 INVALID_SESSION, d=false: discord.py waits 5 s and identifies again
            await asyncio.wait_for(asyncio.gather(seen0.ready.wait(), seen1.ready.wait()), 9)
            starts = sorted(i.at for i in dc.identifies if i.session is not None)
            assert len(starts) == 2 and starts[1] - starts[0] >= 5.0
            assert dc.identify_violations == 1
            assert {g.id for g in first.guilds} == {g.id for g in by_shard[0]}
            assert {g.id for g in second.guilds} == {g.id for g in by_shard[1]}


def _ready_setter(seen: Seen):
    async def on_ready() -> None:
        seen.ready.set()

    return on_ready
