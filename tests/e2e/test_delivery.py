"""Countdown promises on Discord as it really is, through the loopback Discord with the bot's clock held:
crowded channels, hung replies, closed DMs, roles that cannot ping."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot import delivery
from db import countdowns
from playground.loopback import Permissions
from tests.e2e.countdown_helpers import advance, next_due, posts, subscribe


async def test_a_crowded_channel_gets_every_line_in_as_many_messages_as_needed(world):
    server = world.countdown
    channel = server.guild.add_text_channel("crowded")
    await asyncio.sleep(0.1)
    names = [(f"Crowded {i:02d} " + "and a title with a very long name, as some have" * 2)[:100] for i in range(30)]
    sids = [(await subscribe(world, channel, name, "1d", "2028-01-20"))[1] for name in names]
    await advance(world, await next_due(world, sids[0]))
    messages = posts(world, channel)
    assert len(messages) >= 2  # 30 lines of ~150 characters do not fit in one message of 2000
    for message in messages:
        assert len(message.content) <= 2000
        assert delivery.carries_marker(message.content, message.nonce)
    for name, sid in zip(names, sids, strict=True):
        carriers = [m for m in messages if f"**{name}**" in m.content]
        assert len(carriers) == 1, name  # every title announced, exactly once
        [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
        assert record.state == "sent" and record.message_id == carriers[0].id  # recorded with its own message


async def test_a_hung_reply_holds_up_no_other_post_and_its_retry_reuses_the_nonce(world):
    server = world.countdown
    stuck, free = server.guild.add_text_channel("stuck"), server.guild.add_text_channel("free")
    await asyncio.sleep(0.1)
    _, stuck_sid = await subscribe(world, stuck, "Hung Film", "1d", "2028-02-20")
    await subscribe(world, free, "Free Film", "1d", "2028-02-20")
    scheduler = world.bot.scheduler
    timeout, scheduler.send_timeout = scheduler.send_timeout, 0.5
    world.dc.slow(f"/channels/{stuck.id}/messages", 1.5)  # Discord sits on this request (then acts on it)
    try:
        due = await next_due(world, stuck_sid)
        world.clock.set(due)
        [other] = await world.dc.wait_for_messages(free, 1, timeout=1.0, include_interactions=False)
        assert posts(world, stuck) == []  # the other channel did not wait for the hung one
        await advance(world, due)
        [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, stuck_sid)
        assert record.state == "claimed" and record.attempts == 1 and "no answer" in record.error
        [first] = await world.dc.wait_for_messages(stuck, 1, timeout=3.0, include_interactions=False)
        world.dc.clear_faults()
        await advance(world, due + dt.timedelta(seconds=31))  # the retry, inside Discord's nonce window
    finally:
        scheduler.send_timeout = timeout
        world.dc.clear_faults()
    assert posts(world, stuck) == [first]
    attempts = world.dc.requests_to("POST", f"/channels/{stuck.id}/messages")
    assert len(attempts) == 2 and attempts[0].json["nonce"] == attempts[1].json["nonce"] == first.nonce
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, stuck_sid)
    assert record.state == "sent" and record.message_id == first.id and record.late == 0
    assert "posted late" not in other.content


async def test_a_member_with_closed_dms_is_not_tried_again_for_a_day(world):
    server = world.countdown
    shy = server.guild.add_member("shy", roles=[])
    shy.dms_closed = True
    await asyncio.sleep(0.05)
    await subscribe(world, None, "Shy Film One", "0", "2028-03-20", kind="dm", member=shy)
    await subscribe(world, None, "Shy Film Two", "0", "2028-03-20", time="20:00", kind="dm", member=shy)
    mine = await countdowns.subscriptions(world.bot.store, server.guild.id, kind="dm", user_id=shy.id)
    first, second = sorted(mine, key=lambda s: s.next_due)
    dm_channel = world.dc.dm_channel(shy)
    await advance(world, first.next_due)
    [attempt] = world.dc.requests_to("POST", f"/channels/{dm_channel.id}/messages")
    assert attempt.status == 403 and attempt.response_json["code"] == 50007
    await advance(world, second.next_due)
    assert len(world.dc.requests_to("POST", f"/channels/{dm_channel.id}/messages")) == 1  # not tried again
    [one] = await countdowns.deliveries_of(world.bot.store, server.guild.id, first.id)
    [two] = await countdowns.deliveries_of(world.bot.store, server.guild.id, second.id)
    assert one.state == "failed" and "does not accept DMs" in one.error
    assert two.state == "failed" and "does not accept DMs" in two.error and "not tried again" in two.error
    assert world.dc.dm_messages(shy) == []


async def test_an_admin_who_picks_a_role_that_cannot_ping_is_told_so(world):
    server = world.countdown
    channel = server.guild.add_text_channel("pings")  # @everyone may mention everyone (Discord's default) ...
    channel.set_permissions(server.guild.bot_role, deny=Permissions.MENTION_EVERYONE)  # ... but not the bot here
    quiet = server.guild.add_role("Quiet fans", mentionable=False)
    await asyncio.sleep(0.1)
    slug, _ = await subscribe(world, None, "Ping Film", "1d", "2028-04-20", kind="title")

    async def add(role):
        return await world.dc.run_command(server.guild, server.general, server.admin, "reminders add",
                                          {"title": slug, "channel": channel, "role": role})

    r = await add(quiet)
    assert r.ephemeral and "I can't ping" in r.message.text and "not mentionable" in r.message.text
    assert "Allow anyone to @mention this role" in r.message.text and "Mention Everyone" in r.message.text
    r = await add(server.guild.everyone)  # the admin may mention everyone; the bot may not
    assert r.ephemeral and "I can't ping @everyone" in r.message.text
    assert [s for s in await countdowns.subscriptions(world.bot.store, server.guild.id)
            if s.channel_id == channel.id] == []
    # The fix the answer names works: Mention Everyone for the bot in that channel.
    channel.set_permissions(server.guild.bot_role, allow=Permissions.MENTION_EVERYONE)
    await asyncio.sleep(0.1)
    r = await add(quiet)
    assert "will count down" in r.message.text and f"pinging {quiet.mention}" in r.message.text
    sid = int(r.message.text.split("**")[1])
    # Resume checks again: paused, then the bot loses Mention Everyone there.
    await world.bot.countdowns.pause([await countdowns.subscription(world.bot.store, server.guild.id, sid)],
                                     "a test pause")
    channel.set_permissions(server.guild.bot_role, deny=Permissions.MENTION_EVERYONE)
    await asyncio.sleep(0.1)
    r = await world.dc.run_command(server.guild, server.general, server.admin, "reminders resume", {"id": sid})
    assert r.ephemeral and "I can't ping" in r.message.text
    quiet.edit(mentionable=True)
    await asyncio.sleep(0.1)
    r = await world.dc.run_command(server.guild, server.general, server.admin, "reminders resume", {"id": sid})
    assert "resumed" in r.message.text


async def _post_then_lose_the_answer(world, channel, sid: int) -> tuple:
    """What a crash leaves behind: the delivery claimed, its message made by Discord, nothing recorded. The
    dispatcher is stopped (the bot is down) until the test calls `_restart`."""
    server = world.countdown
    await world.bot.scheduler.stop()
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    world.clock.set(record.due_at - dt.timedelta(seconds=1))
    nonce = delivery.nonce_for([record.id])
    await countdowns.claim(world.bot.store, [countdowns.Claim(nonce, (record.id,), {})], world.clock.now())
    sent = await world.bot.get_channel(channel.id).send(f"⏳ posted before the crash\n{delivery.marker(nonce)}",
                                                        nonce=nonce)
    return record, world.dc.message(sent.id)


async def _restart(world, instant: dt.datetime) -> None:
    world.clock.set(instant)
    world.bot.scheduler.start()
    await advance(world, instant)


async def _down_past_the_nonce_window(world, channel, title: str, date: str) -> tuple:
    """Crash after Discord made the post, then stay down longer than it remembers the nonce (both clocks)."""
    _, sid = await subscribe(world, channel, title, "1d", date)
    record, first = await _post_then_lose_the_answer(world, channel, sid)
    world.dc.advance(world.dc.nonce_window_seconds + 30)
    await _restart(world, record.due_at + dt.timedelta(seconds=150))
    return sid, first


async def test_a_retried_nonce_whose_post_a_moderator_deleted_is_recorded_sent_not_paused(world):
    server = world.countdown
    channel = server.guild.add_text_channel("deleted-original")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, channel, "Deleted Film", "1d", "2028-05-20")
    record, first = await _post_then_lose_the_answer(world, channel, sid)
    world.dc._delete_message(first)  # a moderator deletes it before the bot's retry
    await _restart(world, record.due_at + dt.timedelta(seconds=5))  # inside Discord's nonce window
    [attempt] = world.dc.requests_to("POST", f"/channels/{channel.id}/messages")[1:]
    assert attempt.status == 404 and attempt.response_json["code"] == 10008
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    assert record.state == "sent" and "deleted" in record.note
    sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
    assert sub.paused_reason is None
    assert [m for m in posts(world, channel) if not m.deleted] == []  # not posted again
    assert not [m for m in world.dc.messages(server.general, include_interactions=False)
                if "Deleted Film" in m.content]  # no "lost access" alert


async def test_past_the_nonce_window_the_history_is_checked_instead_of_posting_again(world):
    server = world.countdown
    channel = server.guild.add_text_channel("past-window")
    await asyncio.sleep(0.1)
    sid, first = await _down_past_the_nonce_window(world, channel, "Late Restart Film", "2028-06-20")
    assert posts(world, channel) == [first]  # the same nonce now would have made a second post
    assert len(world.dc.requests_to("POST", f"/channels/{channel.id}/messages")) == 1
    assert world.dc.requests_to("GET", f"/channels/{channel.id}/messages")
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    assert record.state == "sent" and record.message_id == first.id and "history" in record.note


async def test_past_the_nonce_window_without_read_message_history_it_is_uncertain_not_reposted(world):
    server = world.countdown
    channel = server.guild.add_text_channel("no-history", overwrites=[
        {"id": server.guild.bot_role.id, "type": 0, "allow": 0, "deny": Permissions.READ_MESSAGE_HISTORY}])
    await asyncio.sleep(0.1)
    sid, first = await _down_past_the_nonce_window(world, channel, "Blind Film", "2028-07-20")
    assert posts(world, channel) == [first]
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    assert record.state == "uncertain" and "Read Message History" in record.note


async def test_an_outage_holds_posts_until_the_server_is_back_then_posts_once(world):
    server = world.countdown
    channel = server.guild.add_text_channel("outage")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, channel, "Outage Film", "1d", "2028-08-20")
    [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
    world.dc.start_outage(server.guild)
    try:
        await world.dc.wait_until(lambda: world.bot.get_guild(server.guild.id).unavailable, timeout=2)
        await advance(world, record.due_at + dt.timedelta(minutes=30))
        assert world.dc.requests_to("POST", f"/channels/{channel.id}/messages") == []  # unknown, not gone
        sub = await countdowns.subscription(world.bot.store, server.guild.id, sid)
        assert sub.paused_reason is None
        before = world.bot.scheduler.passes
    finally:
        world.dc.end_outage(server.guild)
    await world.dc.wait_until(lambda: world.bot.scheduler.passes > before and world.bot.scheduler.sleeping,
                              timeout=3)
    [post] = await world.dc.wait_for_messages(channel, 1, timeout=3, include_interactions=False)
    assert "comes out tomorrow" in post.content and "Discord was unavailable" in post.content
    await advance(world, record.due_at + dt.timedelta(minutes=40))
    assert len(posts(world, channel)) == 1


async def test_a_wave_goes_out_concurrently_under_the_pacer_not_one_round_trip_at_a_time(world):
    server = world.countdown
    channels = [server.guild.add_text_channel(f"wave-{i}") for i in range(20)]
    await asyncio.sleep(0.1)
    sids = [(await subscribe(world, channel, f"Wave Film {i}", "1d", "2028-09-20"))[1]
            for i, channel in enumerate(channels)]
    world.dc.rtt = 0.1  # Discord is far away
    try:
        await advance(world, await next_due(world, sids[0]))
    finally:
        world.dc.rtt = 0.0
    for channel in channels:
        [post] = posts(world, channel)
        assert "posted late" not in post.content
    # Several posts were in flight at once (one at a time, 20 posts would take 20 round trips).
    assert world.dc.peak_concurrency("POST", "/messages") >= 4


async def test_a_wave_keeps_under_discords_global_limit_in_every_second_and_goes_out_in_one_pass(world, monkeypatch):
    """60 posts at zero latency would all leave within a few milliseconds: every one waits for its slot of the
    token's schedule at the HTTP layer, so no second holds more than the pacer's rate, and Discord's global
    limit (on in the loopback) is never hit. Chunks cut at a destination do not end the pass early."""
    from bot import scheduler as scheduler_module
    from bot.budget import POSTS_PER_SECOND

    server = world.countdown
    channels = [server.guild.add_text_channel(f"paced-{i}") for i in range(60)]
    await asyncio.sleep(0.1)
    sids = []
    for i, channel in enumerate(channels):  # two titles a channel: a chunk of 5 rows cuts a channel in two
        for part in ("A", "B"):
            sids.append((await subscribe(world, channel, f"Paced {part} {i}", "1d", "2028-10-20"))[1])
    monkeypatch.setattr(scheduler_module, "CHUNK", 5)
    scheduler = world.bot.scheduler
    sent_by_pass: list[int] = []
    run_once = scheduler.run_once

    async def counted() -> int:
        sent = await run_once()
        sent_by_pass.append(sent)
        return sent

    monkeypatch.setattr(scheduler, "run_once", counted)
    world.dc.rate_limits = True
    paced = scheduler.pacer.paced
    try:
        await advance(world, await next_due(world, sids[0]))
    finally:
        world.dc.rate_limits = False
    assert [n for n in sent_by_pass if n] == [60]  # the whole wave in one pass
    paths = {f"/channels/{c.id}/messages" for c in channels}
    wave = [r for r in world.dc.requests_to("POST", "/messages") if r.path in paths]
    assert not [r for r in wave if r.status == 429]
    sent = [r for r in wave if r.status == 200]
    assert len(sent) == 60 and all(len(posts(world, c)) == 1 for c in channels)
    assert scheduler.pacer.paced - paced >= 60
    starts = sorted(r.started for r in sent)
    window = max(sum(1 for s in starts if first <= s < first + 1.0) for first in starts)
    assert window <= POSTS_PER_SECOND + 1
    assert starts[-1] - starts[0] >= (60 - 1) / POSTS_PER_SECOND * 0.9  # spread out, not at once


async def test_history_shows_each_posts_fate_with_a_link_and_what_is_still_to_come(world):
    """/reminders history after a skipped, a sent and a failed post, with one still to come."""
    server = world.countdown
    channel = server.guild.add_text_channel("history")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, channel, "History Film", "7d,3d,1d,0", "2028-11-20")

    async def history():
        r = await world.dc.run_command(server.guild, server.general, server.admin, "reminders history", {"id": sid})
        assert r.error is None and r.ephemeral and r.message.pings == set(), r.message.text
        return r.message.text

    text = await history()
    assert "0 done, 4 to come" in text and text.count("🕒") == 4
    records = {r.key.label: r for r in await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)}
    # The bot was away over the 7d and 3d posts: 7d is skipped, 3d goes out (late).
    await advance(world, records["3d"].due_at + dt.timedelta(hours=1))
    [post] = posts(world, channel)
    # Discord refuses the 1d post itself (400): it is not retried.
    world.dc.fail_channel(channel, 400, 50006, method="POST")
    try:
        await advance(world, records["1d"].due_at)
    finally:
        world.dc.clear_faults()
    assert posts(world, channel) == [post]
    text = await history()
    assert "3 done, 1 to come" in text
    lines = text.splitlines()
    [seven] = [line for line in lines if "**7d**" in line]
    assert seven.startswith("⏭️") and "skipped (missed while the bot was offline" in seven
    [three] = [line for line in lines if "**3d**" in line]
    assert three.startswith("✅") and "late: the bot was offline" in three
    assert f"https://discord.com/channels/{server.guild.id}/{channel.id}/{post.id}" in three
    [one] = [line for line in lines if "**1d**" in line]
    assert one.startswith("❌") and "failed (Discord refused the message" in one
    [zero] = [line for line in lines if "**0**" in line]
    assert zero.startswith("🕒") and f"<t:{int(records['0'].due_at.timestamp())}:R>" in zero
    # Another server's countdown, or a member: nothing shown.
    r = await world.dc.run_command(server.guild, server.general, server.admin, "reminders history", {"id": 999999})
    assert r.ephemeral and "There is no countdown 999999" in r.message.text


async def test_an_announcement_channel_is_a_countdown_target(world):
    server = world.countdown
    channel = server.guild.add_announcement_channel("announcements")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, channel, "Announced Film", "1d", "2028-12-20")
    await advance(world, await next_due(world, sid))
    [post] = posts(world, channel)
    assert "**Announced Film**" in post.content and post.pings == set()


async def test_an_internal_error_before_the_claim_waits_and_tries_again_instead_of_spinning(world):
    server = world.countdown
    channel = server.guild.add_text_channel("buggy")
    await asyncio.sleep(0.1)
    _, sid = await subscribe(world, channel, "Buggy Film", "1d", "2028-12-24")
    scheduler = world.bot.scheduler
    real = scheduler._destination
    calls = 0

    async def broken(sub):
        nonlocal calls
        if sub.channel_id == channel.id:
            calls += 1
            raise RuntimeError("a bug in the bot")
        return await real(sub)

    scheduler._destination = broken
    try:
        due = await next_due(world, sid)
        await advance(world, due)
        passes = scheduler.passes
        await asyncio.sleep(0.3)
        assert scheduler.passes - passes <= 1 and calls == 1  # not due again at once: no busy loop
        [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sid)
        assert record.state == "pending" and record.error == "internal error"
    finally:
        scheduler._destination = real
    await advance(world, due + dt.timedelta(seconds=31))
    [post] = posts(world, channel)
    assert "**Buggy Film**" in post.content


async def test_a_dm_whose_channel_cannot_be_opened_yet_is_tried_again_later(world):
    server = world.countdown
    fan = server.guild.add_member("late-dm-fan", roles=[])
    await asyncio.sleep(0.05)
    await subscribe(world, None, "Late DM Film", "0", "2028-12-27", kind="dm", member=fan)
    [sub] = [s for s in await countdowns.subscriptions(world.bot.store, server.guild.id, kind="dm", user_id=fan.id)]
    world.dc.fail_route("/users/@me/channels", 503, method="POST")  # Discord cannot open the DM channel now
    try:
        await advance(world, sub.next_due)
        [record] = await countdowns.deliveries_of(world.bot.store, server.guild.id, sub.id)
        assert record.state == "pending" and record.error == "Discord answered 503"  # waits, does not spin
        assert world.dc.dm_messages(fan) == []
    finally:
        world.dc.clear_faults()
    await advance(world, sub.next_due + dt.timedelta(seconds=31))
    [dm] = world.dc.dm_messages(fan)
    assert "**Late DM Film**" in dm.content
