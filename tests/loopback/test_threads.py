"""Threads and forum channels as Discord has them (discord-api-docs, topics/threads.mdx and
resources/channel.mdx), driven with the real discord.py client: a thread inherits its parent's
permissions but needs Send Messages in Threads; sending into an archived thread reopens it; a locked
one refuses; a forum takes no messages, only posts, and a post's creation has no nonce."""

from __future__ import annotations

import asyncio

import discord
import pytest

from playground.loopback import Permissions
from tests.loopback.test_discord_behaviours import loopback, running

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_threads_are_synced_at_start_and_when_created_and_archived_ones_are_not() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        early = guild.add_thread(news, "early thread")
        guild.add_thread(news, "old thread", archived=True)
        hidden = guild.add_thread(news, "mods only", private=True)
        async with running(dc) as (bot, _):
            cached = bot.get_guild(guild.id)
            assert cached is not None
            assert [t.id for t in cached.threads] == [early.id]  # archived and private (unjoined) ones: not synced
            assert isinstance(bot.get_channel(early.id), discord.Thread)
            assert bot.get_channel(early.id).parent_id == news.id
            later = guild.add_thread(news, "later thread")
            await dc.wait_until(lambda: bot.get_channel(later.id) is not None)
            later.set_archived(True)
            await dc.wait_until(lambda: bot.get_channel(later.id) is None)  # discord.py drops archived threads
            # The channel list has no threads; the active list has only those the bot can see.
            channels = await cached.fetch_channels()
            assert all(not isinstance(c, discord.Thread) for c in channels)
            active = await cached.active_threads()
            assert [t.id for t in active] == [early.id]
            hidden.add_thread_member(guild.bot_member)
            assert {t.id for t in await cached.active_threads()} == {early.id, hidden.id}


async def test_sending_in_a_thread_needs_send_messages_in_threads_and_reopens_an_archived_one() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        thread = guild.add_thread(news, "countdown", archived=True)
        async with running(dc) as (bot, _):
            target = bot.get_partial_messageable(thread.id, guild_id=guild.id)
            sent = await target.send("hello")
            assert sent.channel.id == thread.id
            assert not thread.archived and thread.message_count == 1  # Discord reopened it
            # Send Messages means nothing in a thread: without it, a thread still takes the bot's posts...
            news.set_permissions(guild.bot_role, deny=Permissions.SEND_MESSAGES)
            await target.send("still here")
            # ...and without Send Messages in Threads, none.
            news.set_permissions(guild.bot_role, deny=Permissions.SEND_MESSAGES_IN_THREADS)
            with pytest.raises(discord.Forbidden) as exc:
                await target.send("refused")
            assert exc.value.code == 50013
            news.set_permissions(guild.bot_role)
            thread.set_locked(True)
            with pytest.raises(discord.Forbidden) as exc:
                await target.send("locked")
            assert exc.value.code == 160005
            thread.set_archived(True)
            with pytest.raises(discord.HTTPException) as exc:
                await target.send("locked and archived")
            assert exc.value.status == 400 and exc.value.code == 50083
            assert thread.archived  # a locked thread is reopened only by someone with Manage Threads
            guild.bot_role.edit(permissions=guild.bot_role.permissions | Permissions.MANAGE_THREADS)
            await target.send("moderator")
            assert not thread.archived


async def test_a_private_thread_is_seen_only_by_its_members() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        private = guild.add_thread(news, "staff", private=True)
        async with running(dc) as (bot, _):
            target = bot.get_partial_messageable(private.id, guild_id=guild.id)
            with pytest.raises(discord.Forbidden) as exc:
                await target.send("hello")
            assert exc.value.code == 50001
            private.add_thread_member(guild.bot_member)
            await target.send("hello")


async def test_a_forum_takes_posts_not_messages_and_a_post_has_no_nonce() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        forum = guild.add_forum_channel("releases", tags=["Countdown"])
        strict = guild.add_forum_channel("strict", tags=["Film"], require_tag=True)
        async with running(dc) as (bot, _):
            channel = bot.get_channel(forum.id)
            assert isinstance(channel, discord.ForumChannel)
            with pytest.raises(discord.HTTPException) as exc:
                await bot.get_partial_messageable(forum.id, guild_id=guild.id).send("no")
            assert exc.value.code == 50008
            made = await channel.create_thread(name="Ballerina", content="The first post")
            assert made.thread.parent_id == forum.id and made.message.id == made.thread.id
            assert made.thread.owner_id == bot.user.id
            post = dc.get_channel(made.thread.id)
            assert post is not None and [m.content for m in dc.messages(post)] == ["The first post"]
            # The same request again is a second post: forum posts cannot be deduplicated by Discord.
            again = await channel.create_thread(name="Ballerina", content="The first post")
            assert again.thread.id != made.thread.id
            await made.thread.send("a reply in the post")
            assert [m.content for m in dc.messages(post)] == ["The first post", "a reply in the post"]
            # Found again by listing: active posts, and archived ones by their forum.
            post.set_archived(True)
            await asyncio.sleep(0.05)
            archived = [t.id async for t in channel.archived_threads(limit=10)]
            assert archived == [made.thread.id]
            # A forum that requires tags refuses an untagged post; a post needs Send Messages.
            strict_channel = bot.get_channel(strict.id)
            assert isinstance(strict_channel, discord.ForumChannel)
            with pytest.raises(discord.HTTPException) as exc:
                await strict_channel.create_thread(name="Untagged", content="x")
            assert exc.value.code == 40067
            tag = strict_channel.available_tags[0]
            await strict_channel.create_thread(name="Tagged", content="x", applied_tags=[tag])
            forum.set_permissions(guild.bot_role, deny=Permissions.SEND_MESSAGES)
            with pytest.raises(discord.Forbidden):
                await channel.create_thread(name="Refused", content="x")


async def test_deleting_a_thread_or_its_channel() -> None:
    async with loopback() as dc:
        guild = dc.add_guild("Wick Fans")
        news = guild.add_text_channel("news")
        thread = guild.add_thread(news, "countdown")
        other = guild.add_thread(news, "other")
        async with running(dc) as (bot, _):
            deleted: list[int] = []

            async def on_raw_thread_delete(payload: discord.RawThreadDeleteEvent) -> None:
                deleted.append(payload.thread_id)

            bot.add_listener(on_raw_thread_delete)
            guild.delete_channel(thread)
            await dc.wait_until(lambda: deleted == [thread.id])
            with pytest.raises(discord.NotFound):
                await bot.get_partial_messageable(thread.id, guild_id=guild.id).send("gone")
            guild.delete_channel(news)
            with pytest.raises(discord.NotFound):
                await bot.get_partial_messageable(other.id, guild_id=guild.id).send("gone with its channel")
