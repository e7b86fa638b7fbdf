"""Where Discord is less kind than a test double: its clock, the network's round trip, the nonce
window, guild outages, two sessions on one token, and the invalid request limit (a temporary ban).

Each test has its own loopback (the clock moves and bans stick) and, where it needs one, a tiny
discord.py bot (not the project's bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from playground.loopback import GuildUnavailable, LoopbackDiscord, Permissions

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Record:
    def __init__(self) -> None:
        self.events: list[tuple[str, int | None]] = []  # ("available", guild id), ("message", message id)...
        self.pings = 0
        self.errors: list[BaseException] = []
        self.ready = asyncio.Event()

    def saw(self, name: str, about: int | None = None, times: int = 1) -> bool:
        return self.events.count((name, about)) >= times


def make_bot(record: Record, sync_to: tuple[int, ...]) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)

    @bot.tree.command(name="ping", description="Answers pong")
    async def ping(interaction: discord.Interaction) -> None:
        record.pings += 1
        await interaction.response.send_message("pong")

    @bot.tree.error
    async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        record.errors.append(getattr(error, "original", error))

    @bot.event
    async def on_ready() -> None:
        record.ready.set()

    @bot.event
    async def on_guild_unavailable(guild: discord.Guild) -> None:
        record.events.append(("unavailable", guild.id))

    @bot.event
    async def on_guild_available(guild: discord.Guild) -> None:
        record.events.append(("available", guild.id))

    @bot.event
    async def on_message(message: discord.Message) -> None:
        record.events.append(("message", message.id))

    async def setup_hook() -> None:
        for gid in sync_to:
            bot.tree.copy_global_to(guild=discord.Object(gid))
            await bot.tree.sync(guild=discord.Object(gid))

    bot.setup_hook = setup_hook
    return bot


@contextlib.asynccontextmanager
async def running(dc: LoopbackDiscord, *sync_to: int) -> AsyncIterator[tuple[commands.Bot, Record]]:
    """A bot connected to ``dc`` (its commands synced to the guild ids ``sync_to``), closed on exit."""
    record = Record()
    bot = make_bot(record, sync_to)
    task = asyncio.create_task(bot.start(dc.token))
    try:
        await asyncio.wait_for(record.ready.wait(), 10)
        for gid in sync_to:
            await dc.wait_for_commands(gid, timeout=10)
        yield bot, record
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


@contextlib.asynccontextmanager
async def loopback(**kwargs) -> AsyncIterator[LoopbackDiscord]:
    async with LoopbackDiscord(**kwargs) as dc:
        undo = dc.patch_discord()
        try:
            yield dc
        finally:
            undo()


def text_channel(bot: commands.Bot, ch) -> discord.TextChannel:
    found = bot.get_channel(ch.id)
    assert isinstance(found, discord.TextChannel)
    return found


# ---------------------------------------------------------------------------- Discord's clock


async def test_clock_starts_at_monotonic_time_and_only_moves_forward() -> None:
    async with loopback() as dc:
        assert abs(dc.now() - time.monotonic()) < 0.05
        before = dc.now()
        dc.advance(3600)
        assert dc.now() - before >= 3600
        with pytest.raises(ValueError):
            dc.advance(-1)


async def test_interaction_tokens_expire_on_discords_clock() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        ch = guild.add_text_channel("general")
        alice = guild.add_member("alice")
        async with running(dc, guild.id) as (bot, _):
            r = await dc.run_command(guild, ch, alice, "ping")
            dc.advance(15 * 60 + 1)
            route = discord.http.Route(
                "PATCH",
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                webhook_id=dc.application_id,
                webhook_token=r.token,
            )
            with pytest.raises(discord.HTTPException) as exc:
                await bot.http.request(route, json={"content": "edited much later"})
            assert exc.value.status == 401 and exc.value.code == 50027
            assert r.error["code"] == 50027 and dc.invalid_requests() == 1


# ---------------------------------------------------------------------------- round-trip time


async def test_rtt_delays_every_answer_and_discord_acts_mid_flight() -> None:
    async with LoopbackDiscord() as plain:
        assert plain.rtt == 0.0
    async with loopback(rtt=0.3) as dc:
        guild = dc.add_guild("Wick Fans")
        ch = guild.add_text_channel("general")
        headers = {"Authorization": f"Bot {dc.token}"}
        async with aiohttp.ClientSession(headers=headers) as s:
            t0 = time.monotonic()

            async def post() -> int:
                async with s.post(f"{dc.base_url}/channels/{ch.id}/messages", json={"content": "hi"}) as resp:
                    return resp.status

            task = asyncio.create_task(post())
            await dc.wait_for_messages(ch, 1, timeout=2)  # Discord made the message...
            assert not task.done()  # ...and its answer is still on the way back
            assert await task == 200
            assert time.monotonic() - t0 >= 0.3
        rec = dc.requests_to("POST", "/messages")[-1]
        assert rec.started is not None and rec.finished is not None
        assert rec.finished - rec.started >= 0.3


async def test_peak_concurrency_counts_requests_in_flight_together() -> None:
    async with loopback(rtt=0.1) as dc:
        guild = dc.add_guild("Wick Fans")
        ch = guild.add_text_channel("general")
        headers = {"Authorization": f"Bot {dc.token}"}
        async with aiohttp.ClientSession(headers=headers) as s:

            async def get(path: str) -> None:
                async with s.get(dc.base_url + path) as resp:
                    assert resp.status == 200

            await asyncio.gather(*(get("/users/@me") for _ in range(5)))
            for _ in range(3):
                await get(f"/channels/{ch.id}")
        assert dc.peak_concurrency("GET", "/users/@me") == 5
        assert dc.peak_concurrency("GET", f"/channels/{ch.id}") == 1
        assert dc.peak_concurrency() == 5


async def test_rtt_applies_to_interaction_callbacks() -> None:
    async with loopback(rtt=0.1) as dc:
        guild = dc.add_guild("Wick Fans")
        ch = guild.add_text_channel("general")
        alice = guild.add_member("alice")
        async with running(dc, guild.id):
            r = await dc.run_command(guild, ch, alice, "ping")  # returns when Discord has the callback...
            assert r.message.content == "pong"
            [callback] = dc.requests_to("POST", "/callback")
            assert callback.finished is None  # ...while its answer is still on the way back
            await dc.wait_until(lambda: callback.finished is not None)
            assert callback.finished - callback.started >= 0.1


# ---------------------------------------------------------------------------- the nonce window


async def test_nonce_window_dedups_then_404s_for_a_deleted_message_then_expires() -> None:
    async with loopback() as dc:
        assert dc.nonce_window_seconds == 120.0
        dc.rate_limits = False  # six posts in a row would wait for the 5-per-5-s bucket
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        async with running(dc) as (bot, _):
            ch = text_channel(bot, news)
            first = await ch.send("3 days to go", nonce="cd-1")
            again = await ch.send("3 days to go", nonce="cd-1")
            assert again.id == first.id and len(dc.messages(news)) == 1

            # the create response and MESSAGE_CREATE carry the nonce; fetched messages do not
            create = dc.requests_to("POST", f"/channels/{news.id}/messages")[0]
            assert create.response_json["nonce"] == "cd-1"
            [event] = [e for e in dc.gateway_events if e["t"] == "MESSAGE_CREATE"]
            assert event["d"]["nonce"] == "cd-1"
            fetched = await ch.fetch_message(first.id)
            assert fetched.nonce is None
            history = [m async for m in ch.history(limit=10)]
            assert [m.id for m in history] == [first.id] and history[0].nonce is None
            assert all("nonce" not in m for m in dc.requests_to("GET", "/messages")[-1].response_json)

            # deleted within the window: the retry is told the message is unknown
            await first.delete()
            with pytest.raises(discord.NotFound) as exc:
                await ch.send("3 days to go", nonce="cd-1")
            assert exc.value.code == 10008

            # past the window the nonce is forgotten: a second message
            dc.advance(121)
            second = await ch.send("3 days to go", nonce="cd-1")
            assert second.id != first.id
            third = await ch.send("3 days to go", nonce="cd-1")
            assert third.id == second.id
            assert [m.id for m in dc.messages(news, include_deleted=False)] == [second.id]


async def test_channel_history_needs_view_channel_and_is_empty_without_read_history() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        async with running(dc) as (bot, _):
            ch = text_channel(bot, news)
            sent = [await ch.send(f"post {i}") for i in range(4)]
            history = [m.id async for m in ch.history(limit=3)]
            assert history == [m.id for m in reversed(sent)][:3]  # newest first
            assert [m.id async for m in ch.history(limit=10, before=sent[2])] == [sent[1].id, sent[0].id]
            assert [m.id async for m in ch.history(limit=10, after=sent[1], oldest_first=True)] == [
                sent[2].id,
                sent[3].id,
            ]

            news.set_permissions(guild.bot_role, deny=Permissions.READ_MESSAGE_HISTORY)
            assert [m async for m in ch.history(limit=10)] == []
            assert dc.requests_to("GET", f"/channels/{news.id}/messages")[-1].status == 200

            news.set_permissions(guild.bot_role, deny=Permissions.VIEW_CHANNEL)
            with pytest.raises(discord.Forbidden) as exc:
                [m async for m in ch.history(limit=10)]
            assert exc.value.code == 50001


# ---------------------------------------------------------------------------- guild outages


async def test_outage_while_connected() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        general = guild.add_text_channel("general")
        other = dc.add_guild("Other Fans")
        other_general = other.add_text_channel("general")
        alice = guild.add_member("alice")
        bob = other.add_member("bob")
        async with running(dc, guild.id, other.id) as (bot, record):
            ch = text_channel(bot, general)
            dc.start_outage(guild)
            assert guild.unavailable and not other.unavailable
            await dc.wait_until(lambda: record.saw("unavailable", guild.id))
            assert bot.get_guild(guild.id).unavailable  # still cached: unknown, not deleted
            assert {"id": str(guild.id), "unavailable": True} in [
                e["d"] for e in dc.gateway_events if e["t"] == "GUILD_DELETE"
            ]

            with pytest.raises(discord.DiscordServerError) as exc:
                await ch.send("during the outage")
            assert exc.value.status == 503
            assert dc.requests_to("POST", f"/channels/{general.id}")[-1].response_headers["Via"] == "1.1 google"
            with pytest.raises(GuildUnavailable):
                await dc.run_command(guild, general, alice, "ping")
            r = await dc.run_command(other, other_general, bob, "ping")  # other guilds are fine
            assert r.message.content == "pong"

            late = guild.add_text_channel("added-during-outage")  # no CHANNEL_CREATE while it is out
            assert not [e for e in dc.gateway_events if e["t"] == "CHANNEL_CREATE"]

            dc.end_outage(guild)
            await dc.wait_until(lambda: record.saw("available", guild.id, times=2))  # at start-up, and now
            back = bot.get_guild(guild.id)
            assert not back.unavailable and back.get_channel(late.id) is not None
            r = await dc.run_command(guild, general, alice, "ping")
            assert r.message.content == "pong"


async def test_outage_at_start_up() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        general = guild.add_text_channel("general")
        other = dc.add_guild("Other Fans")
        dc.start_outage(guild)
        async with running(dc, other.id) as (bot, record):  # on_ready fires after guild_ready_timeout
            ready = next(e for e in dc.gateway_events if e["t"] == "READY")
            assert {"id": str(guild.id), "unavailable": True} in ready["d"]["guilds"]
            creates = [e["d"]["id"] for e in dc.gateway_events if e["t"] == "GUILD_CREATE"]
            assert creates == [str(other.id)]
            assert bot.get_guild(guild.id).unavailable
            assert not bot.get_guild(other.id).unavailable

            dc.end_outage(guild)
            await dc.wait_until(lambda: record.saw("available", guild.id))
            assert bot.get_guild(guild.id).get_channel(general.id) is not None


# ---------------------------------------------------------------------------- two sessions, one token


async def test_two_processes_on_one_token_both_hear_everything() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        general = guild.add_text_channel("general")
        alice = guild.add_member("alice")
        async with running(dc, guild.id) as (old_bot, old), running(dc, guild.id) as (new_bot, new):
            assert len(dc.sessions) == 2 and all(s.connected for s in dc.sessions)

            # both answer the same interaction: the first acknowledgement wins, the second gets 40060
            r = await dc.run_command(guild, general, alice, "ping")
            assert r.type == 4 and r.message.content == "pong"
            await dc.wait_until(lambda: r.error is not None)
            assert r.error["code"] == 40060
            assert old.pings + new.pings == 2
            assert len(dc.messages(general)) == 1
            await dc.wait_until(lambda: len(old.errors) + len(new.errors) == 1)
            assert isinstance((old.errors + new.errors)[0], discord.HTTPException)

            # ...and every other event of the shard
            msg = dc.send_user_message(general, alice, "hello")
            await dc.wait_until(lambda: old.saw("message", msg.id) and new.saw("message", msg.id))
            ch = guild.add_text_channel("new-channel")
            await dc.wait_until(lambda: old_bot.get_channel(ch.id) and new_bot.get_channel(ch.id))

            # faults act on every session: both resume
            resumes = dc.resume_count
            await dc.drop_gateway(resume=True)
            await dc.wait_until(lambda: dc.resume_count == resumes + 2 and all(s.connected for s in dc.sessions))


async def test_a_session_without_a_connection_stays_until_the_client_says_goodbye() -> None:
    async with loopback() as dc:
        dc.add_guild("Wick Fans")

        async def identify(s: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
            ws = await s.ws_connect(dc.gateway_url)
            await ws.receive_json()  # HELLO
            await ws.send_json({"op": 2, "d": {"token": dc.token, "intents": 1, "properties": {}}})
            assert (await ws.receive_json())["t"] == "READY"
            return ws

        async with aiohttp.ClientSession() as s:
            dropped = await identify(s)
            await dropped.close(code=4000)  # a reconnecting client (or a killed one) keeps its session
            goodbye = await identify(s)
            await dc.wait_until(lambda: len(dc.sessions) == 2 and sum(x.connected for x in dc.sessions) == 1)
            await goodbye.close(code=1000)
            await dc.wait_until(lambda: len(dc.sessions) == 1)
            assert not dc.sessions[0].connected
        guild = dc.guilds[0]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bot {dc.token}"}) as s:
            cmd = {"name": "ping", "description": "Answers pong", "type": 1}
            url = f"{dc.base_url}/applications/{dc.application_id}/guilds/{guild.id}/commands"
            async with s.put(url, json=[cmd]) as resp:
                assert resp.status == 200
        with pytest.raises(RuntimeError, match="not connected"):  # a session that only buffers is not enough
            await dc.run_command(guild, guild.add_text_channel("general"), guild.owner, "ping")


# ---------------------------------------------------------------------------- invalid request limit


async def test_invalid_requests_count_401_403_429_in_a_sliding_window() -> None:
    async with loopback() as dc:
        assert (dc.invalid_request_limit, dc.invalid_request_window, dc.ban_seconds) == (10_000, 600.0, 3600.0)
        guild = dc.add_guild("Wick Fans")
        ch = guild.add_text_channel("general")
        url = f"{dc.base_url}/channels/{ch.id}/messages"
        async with aiohttp.ClientSession() as anon, aiohttp.ClientSession(
            headers={"Authorization": f"Bot {dc.token}"}
        ) as s:
            async with anon.get(dc.base_url + "/users/@me") as resp:
                assert resp.status == 401
            async with s.get(f"{dc.base_url}/channels/{ch.id}/messages/1") as resp:
                assert resp.status == 404  # other errors do not count
            dc.fail_channel(ch, status=429, times=1, retry_after=0.01, scope="shared")
            async with s.post(url, json={"content": "x"}) as resp:
                assert resp.status == 429 and resp.headers["X-RateLimit-Scope"] == "shared"
            dc.fail_channel(ch, status=429, times=1, retry_after=0.01)
            async with s.post(url, json={"content": "x"}) as resp:
                assert resp.status == 429 and resp.headers["X-RateLimit-Scope"] == "user"
            dc.fail_channel(ch, status=403, times=1)
            async with s.post(url, json={"content": "x"}) as resp:
                assert resp.status == 403
            assert dc.invalid_requests() == 3
            dc.advance(300)
            async with anon.get(dc.base_url + "/users/@me") as resp:
                assert resp.status == 401
            assert dc.invalid_requests() == 4
            dc.advance(301)  # the first three left the 10-minute window
            assert dc.invalid_requests() == 1
            assert not dc.banned and dc.ban_count == 0


async def test_reaching_the_limit_bans_the_ip_for_a_while() -> None:
    async with loopback() as dc:
        dc.invalid_request_limit = 3
        guild = dc.add_guild("Wick Fans")
        general = guild.add_text_channel("general")
        locked = guild.add_text_channel(
            "locked", overwrites=[{"id": guild.bot_role, "type": 0, "allow": 0, "deny": Permissions.SEND_MESSAGES}]
        )
        alice = guild.add_member("alice")
        async with running(dc, guild.id) as (bot, record):
            for _ in range(3):  # a bot that keeps posting where it may not
                with pytest.raises(discord.Forbidden) as exc:
                    await text_channel(bot, locked).send("again")
                assert exc.value.code == 50013
            assert dc.banned and dc.ban_count == 1

            # now every request is refused by Cloudflare, before Discord sees it: not JSON, no error code
            with pytest.raises(discord.Forbidden) as exc:
                await text_channel(bot, general).send("hello?")
            assert exc.value.status == 403 and exc.value.code == 0
            rec = dc.requests_to("POST", f"/channels/{general.id}/messages")[-1]
            assert rec.status == 403 and rec.response_json is None
            assert "Via" not in rec.response_headers and dc.messages(general) == []
            t0 = time.monotonic()
            r = await dc.run_command(guild, general, alice, "ping")  # the callback is refused too
            assert time.monotonic() - t0 < 2
            assert r.type is None and r.error["status"] == 403
            await dc.wait_until(lambda: record.errors)
            assert isinstance(record.errors[-1], discord.Forbidden)

            dc.advance(dc.ban_seconds + 1)
            assert not dc.banned and dc.invalid_requests() == 0
            msg = await text_channel(bot, general).send("back")
            assert msg.content == "back"


async def test_raw_banned_answer_is_a_cloudflare_page() -> None:
    async with loopback() as dc:
        dc.invalid_request_limit = 1
        async with aiohttp.ClientSession() as s:
            async with s.get(dc.base_url + "/users/@me") as resp:
                assert resp.status == 401
            async with s.get(dc.base_url + "/gateway") as resp:
                assert resp.status == 403
                assert resp.content_type == "text/html" and "Cloudflare" in await resp.text()
        assert dc.invalid_requests() == 0  # refused requests are not counted again


async def test_closed_dms_are_403_50007_and_count_as_invalid() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        bob = guild.add_member("bob", dms_closed=True)
        async with running(dc) as (bot, _):
            user = await bot.fetch_user(bob.id)
            with pytest.raises(discord.Forbidden) as exc:
                await user.send("your reminder")
            assert exc.value.code == 50007
            assert dc.invalid_requests() == 1
            bob.dms_closed = False
            await user.send("your reminder")
            assert [m.content for m in dc.dm_messages(bob)] == ["your reminder"]
