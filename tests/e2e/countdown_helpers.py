"""Helpers for countdown E2E tests: move the held clock and wait for the dispatcher, subscribe a channel."""

from __future__ import annotations

import asyncio
import datetime as dt

from db import countdowns


async def state(world) -> str:
    rows = await world.bot.store.fetchall("SELECT id, milestone, due_at, state FROM deliveries ORDER BY id")
    scheduler = world.bot.scheduler
    return (f"passes {scheduler.passes}, sleeping {scheduler.sleeping}, checked {scheduler.checked_at}, "
            f"deliveries {[tuple(r) for r in rows][-20:]}")


async def settle(world, before: int | None = None) -> None:
    """Wait until the dispatcher has run a pass since `before` and gone back to sleep."""
    scheduler = world.bot.scheduler
    before = scheduler.passes if before is None else before
    for _ in range(500):
        await asyncio.sleep(0.01)
        if scheduler.passes > before and scheduler.sleeping:
            return
    raise AssertionError(f"the scheduler did not settle: {await state(world)}")


async def advance(world, instant: dt.datetime) -> None:
    """Move the bot's clock and wait until the dispatcher has handled everything due by then."""
    scheduler = world.bot.scheduler
    world.clock.set(instant)
    for _ in range(1000):
        await asyncio.sleep(0.01)
        if scheduler.sleeping and scheduler.checked_at is not None and scheduler.checked_at >= instant:
            return
    raise AssertionError(f"the scheduler did not catch up with {instant}: {await state(world)}")


async def subscribe(world, channel, title: str, milestones: str, date: str, *, time: str | None = None,
                    kind: str = "channel", member=None) -> tuple[str, int | None]:
    """Add a title of the countdown server's with a US release, and subscribe `channel` (or DM `member`)."""
    server = world.countdown
    r = await world.dc.run_command(server.guild, server.general, server.admin, "catalog add-title", {"title": title})
    slug = r.message.text.split("`")[1]
    options = {"title": slug, "date": date, "region": "US"}
    if time:
        options["time"] = time
    r = await world.dc.run_command(server.guild, server.general, server.admin, "catalog set-release", options)
    assert r.error is None, r.message.text
    if kind == "title":
        return slug, None
    if kind == "dm":
        r = await world.dc.run_command(server.guild, server.general, member, "remindme add", {"title": slug})
        assert "I'll DM you" in r.message.text, r.message.text
        return slug, None
    r = await world.dc.run_command(server.guild, server.general, server.admin, "reminders add",
                                   {"title": slug, "channel": channel, "milestones": milestones})
    assert "will count down" in r.message.text, r.message.text
    return slug, int(r.message.text.split("**")[1])


def posts(world, channel):
    return world.dc.messages(channel, include_interactions=False)


async def next_due(world, sid: int) -> dt.datetime:
    """When the countdown server's subscription `sid` posts next."""
    sub = await countdowns.subscription(world.bot.store, world.countdown.guild.id, sid)
    assert sub is not None and sub.next_due is not None
    return sub.next_due
