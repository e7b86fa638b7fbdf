"""Countdowns into threads and forum channels, through the loopback Discord as Discord has them: a thread
needs Send Messages in Threads and reopens when posted in; a forum gets one post per title, made without a
nonce, so an attempt whose answer was lost must find its post again instead of making a second one."""

from __future__ import annotations

import asyncio
import datetime as dt

from db import countdowns
from playground.loopback import Permissions
from tests.e2e.countdown_helpers import advance, next_due, posts, subscribe


async def run(world, command: str, options: dict):
    server = world.countdown
    return await world.dc.run_command(server.guild, server.general, server.admin, command, options)


def forum_posts(world, forum):
    return [c for c in world.countdown.guild.channels.values() if c.is_thread and c.parent_id == forum.id]


async def test_a_thread_is_a_countdown_target_and_an_archived_one_is_reopened_by_the_post(world):
    server = world.countdown
    parent = server.guild.add_text_channel("thread-parent")
    thread = server.guild.add_thread(parent, "Ballerina talk")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, thread, "Threaded Film", "2d,1d", "2029-01-20")
    thread.set_archived(True)  # a quiet week: Discord archived it, and the bot's cache no longer holds it
    await asyncio.sleep(0.1)
    assert world.bot.get_channel(thread.id) is None
    await advance(world, await next_due(world, sid))
    [post] = posts(world, thread)
    assert "**Threaded Film**" in post.content and posts(world, parent) == []
    assert not thread.archived  # the post reopened it
    r = await run(world, "reminders history", {"id": sid})
    assert f"https://discord.com/channels/{server.guild.id}/{thread.id}/{post.id}" in r.message.text


async def test_an_archived_thread_can_be_picked_and_each_kind_is_checked_for_its_own_permissions(world):
    server = world.countdown
    parent = server.guild.add_text_channel("picky-parent")
    archived = server.guild.add_thread(parent, "old thread", archived=True)
    locked = server.guild.add_thread(parent, "locked thread", locked=True)
    private = server.guild.add_thread(parent, "staff only", private=True)
    await asyncio.sleep(0.1)
    slug, _ = await subscribe(world, None, "Picky Film", "1d", "2029-02-20", kind="title")

    async def add(channel):
        return await run(world, "reminders add", {"title": slug, "channel": channel})

    r = await add(archived)  # not in the bot's cache: fetched from Discord, and fine
    assert "will count down" in r.message.text, r.message.text
    r = await add(locked)
    assert r.ephemeral and "is locked" in r.message.text
    r = await add(private)
    assert r.ephemeral and "I can't see" in r.message.text and "add me to it" in r.message.text
    # Send Messages means nothing in a thread; Send Messages in Threads is what it takes.
    parent.set_permissions(server.guild.bot_role, deny=Permissions.SEND_MESSAGES_IN_THREADS)
    other = server.guild.add_thread(parent, "no threads for me")
    await asyncio.sleep(0.1)
    r = await add(other)
    assert r.ephemeral and "missing: Send Messages In Threads" in r.message.text
    parent.set_permissions(server.guild.bot_role, deny=Permissions.SEND_MESSAGES)
    await asyncio.sleep(0.1)
    r = await add(other)
    assert "will count down" in r.message.text, r.message.text
    subs = [s for s in await countdowns.subscriptions(world.bot.store, server.guild.id) if s.title_slug == slug]
    assert {s.channel_id for s in subs} == {archived.id, other.id}  # nothing stored for the refused ones


async def test_a_locked_thread_pauses_its_countdown_and_resume_waits_for_the_unlock(world):
    server = world.countdown
    await run(world, "settings alerts-channel", {"channel": server.general})
    parent = server.guild.add_text_channel("lockable-parent")
    thread = server.guild.add_thread(parent, "lockable")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, thread, "Locked Film", "2d,1d", "2029-03-20")
    thread.set_locked(True)
    await asyncio.sleep(0.1)
    await advance(world, await next_due(world, sid))
    assert posts(world, thread) == []
    sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
    assert sub.paused_reason == "the thread is locked"
    [alert] = [m for m in posts(world, server.general) if "Locked Film" in m.content and "paused" in m.content]
    assert "the thread is locked" in alert.content
    r = await run(world, "reminders resume", {"id": sid})
    assert r.ephemeral and "is locked" in r.message.text
    thread.set_locked(False)
    await asyncio.sleep(0.1)
    r = await run(world, "reminders resume", {"id": sid})
    assert "resumed" in r.message.text
    await advance(world, await next_due(world, sid))
    [post] = posts(world, thread)
    assert "**Locked Film**" in post.content


async def test_a_forum_gets_one_post_per_title_and_its_later_countdowns_answer_in_it(world):
    server = world.countdown
    forum = server.guild.add_forum_channel("release-forum")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, forum, "Forum Film", "3d,1d", "2029-04-20")
    _, other_sid = await subscribe(world, forum, "Other Forum Film", "3d", "2029-04-20")
    await advance(world, await next_due(world, sid))  # both titles' 3d posts are due at once
    made = forum_posts(world, forum)
    assert sorted(p.name for p in made) == ["Forum Film", "Other Forum Film"]  # one post each, not one shared
    post = next(p for p in made if p.name == "Forum Film")
    [first] = posts(world, post)
    assert first.id == post.id and "**Forum Film**" in first.content and "Other Forum Film" not in first.content
    assert post.owner_id == world.dc.bot_user_id
    r = await run(world, "reminders history", {"id": sid})
    assert f"In <#{forum.id}> (its post: <#{post.id}>)" in r.message.text
    # The date moves: the notice goes into the same post, and so does the next milestone.
    r = await run(world, "catalog set-release", {"title": "forum-film", "date": "2029-04-22", "region": "US"})
    assert r.error is None, r.message.text
    await world.dc.wait_for_messages(post, 2, timeout=5.0, include_interactions=False)
    for _ in range(200):  # the notice is recorded sent right after Discord answered
        sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
        if sub.next_key is not None and not sub.next_key.is_move:
            break
        await asyncio.sleep(0.01)
    assert sub.next_key.label == "3d"  # three days before the new date
    await advance(world, sub.next_due)
    lines = [m.content for m in posts(world, post)]
    assert len(lines) == 3 and "moved" in lines[1] and "**3 days** until **Forum Film**" in lines[2]
    assert len(forum_posts(world, forum)) == 2  # no new post for later messages
    r = await run(world, "reminders history", {"id": sid})
    assert f"https://discord.com/channels/{server.guild.id}/{post.id}/{post.id}" in r.message.text
    assert other_sid != sid


async def test_a_forum_post_whose_answer_was_lost_is_found_again_not_made_twice(world):
    server = world.countdown
    forum = server.guild.add_forum_channel("slow-forum")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, forum, "Slow Forum Film", "1d", "2029-05-20")
    scheduler = world.bot.scheduler
    timeout, scheduler.send_timeout = scheduler.send_timeout, 0.5
    world.dc.slow(f"/channels/{forum.id}/threads", 1.0, after=True)  # Discord makes the post; the answer is late
    try:
        due = await next_due(world, sid)
        await advance(world, due)
        [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
        assert record.state == "claimed" and "no answer" in record.error
        await world.dc.wait_until(lambda: len(forum_posts(world, forum)) == 1, timeout=3.0)
        world.dc.clear_faults()
        await advance(world, due + dt.timedelta(seconds=31))  # the retry, well inside any nonce window
    finally:
        scheduler.send_timeout = timeout
        world.dc.clear_faults()
    [post] = forum_posts(world, forum)  # found by its marker: no second post
    assert len(posts(world, post)) == 1
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    assert record.state == "sent" and record.message_id == post.id and record.note == "found in the forum"
    sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
    assert sub.post_id == post.id


async def test_a_forum_that_requires_tags_or_withholds_send_messages_is_refused(world):
    server = world.countdown
    strict = server.guild.add_forum_channel("strict-forum", tags=["Film"], require_tag=True)
    closed = server.guild.add_forum_channel("closed-forum")
    closed.set_permissions(server.guild.bot_role, deny=Permissions.SEND_MESSAGES)
    await asyncio.sleep(0.1)
    slug, _ = await subscribe(world, None, "Refused Forum Film", "1d", "2029-06-20", kind="title")
    r = await run(world, "reminders add", {"title": slug, "channel": strict})
    assert r.ephemeral and "requires a tag" in r.message.text
    r = await run(world, "reminders add", {"title": slug, "channel": closed})
    assert r.ephemeral and "missing: Send Messages" in r.message.text
    subs = [s for s in await countdowns.subscriptions(world.bot.store, server.guild.id) if s.title_slug == slug]
    assert subs == []


async def test_a_deleted_forum_post_pauses_the_countdown_and_resume_makes_a_new_one(world):
    server = world.countdown
    forum = server.guild.add_forum_channel("deleting-forum")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, forum, "Deleted Post Film", "3d,2d,1d", "2029-07-20")
    await advance(world, await next_due(world, sid))
    [post] = forum_posts(world, forum)
    server.guild.delete_channel(post)  # a moderator removed the post
    await asyncio.sleep(0.2)
    sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
    assert sub.paused_reason == "its forum post was deleted" and sub.post_id is None
    r = await run(world, "reminders resume", {"id": sid})
    assert "resumed" in r.message.text
    await advance(world, await next_due(world, sid))
    [new] = [p for p in forum_posts(world, forum) if not p.deleted]
    assert new.id != post.id and "**Deleted Post Film**" in posts(world, new)[0].content


async def test_a_deleted_thread_pauses_its_countdown(world):
    server = world.countdown
    parent = server.guild.add_text_channel("doomed-parent")
    thread = server.guild.add_thread(parent, "doomed")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, thread, "Doomed Thread Film", "1d", "2029-08-20")
    server.guild.delete_channel(thread)
    await asyncio.sleep(0.2)
    sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
    assert sub.paused_reason == "the thread was deleted"
