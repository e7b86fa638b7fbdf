"""The countdown service: the one door cogs use for countdowns. It plans, writes and wakes the dispatcher.

Cogs never build a probe subscription or touch the scheduler: they call `subscribe`, `remove`, `resume`,
`release_changed`, `timezone_changed`, `dates_changed` and `pause` here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot import countdown
from bot.clock import Clock
from bot.scheduler import Scheduler
from db import countdowns
from db.countdowns import PlannedRow, Subscription
from db.models import GuildSettings, Release, Title
from db.store import Store


class CountdownService:
    def __init__(self, *, store: Store, clock: Clock, reads: Any, settings_of: Callable[[int], GuildSettings],
                 scheduler: Scheduler) -> None:
        self.store = store
        self.clock = clock
        self.reads = reads
        self.settings_of = settings_of
        self.scheduler = scheduler
        # Told which server's followed releases changed (its Scheduled Events follow: bot.events).
        self.followed_changed: Callable[[int], None] = lambda guild_id: None

    def plan(self, guild_id: int, milestones: str, release: Release) -> list[PlannedRow]:
        return countdown.plan_for(release.value, milestones, self.settings_of(guild_id))

    async def subscribe(self, *, guild_id: int, title: Title, release: Release, milestones: str, actor: int,
                        channel_id: int | None = None, user_id: int | None = None,
                        role_id: int | None = None, channel_type: int = 0) -> tuple[int, list[PlannedRow]]:
        """A channel's countdown (channel_id: a text or announcement channel, a thread, or a forum, by
        channel_type) or a member's release-day DM (user_id). Returns (id, plan)."""
        planned = self.plan(guild_id, milestones, release)
        now = self.clock.now()
        sid = await countdowns.create_subscription(
            self.store, guild_id=guild_id, kind="channel" if channel_id else "dm", channel_id=channel_id,
            user_id=user_id, title=title, release=release, milestones=milestones, role_id=role_id,
            created_by=actor, planned=planned, now=now, channel_type=channel_type)
        self.scheduler.wake()
        self.followed_changed(guild_id)
        return sid, [(key, due) for key, due in planned if due > now]

    async def remove(self, sub: Subscription, actor: int) -> bool:
        removed = await countdowns.remove_subscription(self.store, sub.guild_id, sub.id, actor, self.clock.now())
        self.followed_changed(sub.guild_id)
        return removed

    async def resume(self, sub: Subscription) -> None:
        await countdowns.resume(self.store, sub.id, self.clock.now())
        self.scheduler.wake()

    async def release_changed(self, subs: Sequence[Subscription]) -> None:
        """Plan these subscriptions again from their release as it is now (a new row, a moved date). A move
        itself is announced by the dispatcher, from the durable record of the move."""
        for sub in subs:
            release = await self.reads.release_of(sub.title_slug, sub.guild_id, sub.region, sub.medium)
            if release is not None:
                await self.scheduler.replan(sub, release)
        for guild_id in {sub.guild_id for sub in subs}:
            self.followed_changed(guild_id)
        self.scheduler.wake()

    async def timezone_changed(self, guild_id: int) -> None:
        """Posting hours are wall-clock times in the server's zone: plan every countdown there again."""
        await self.release_changed(await countdowns.subscriptions_in_guild(self.store, guild_id))

    def dates_changed(self) -> None:
        """Dates moved in bulk (a pack import): the dispatcher reads the moves and re-plans."""
        self.scheduler.wake()

    async def pause(self, subs: Sequence[Subscription], reason: str) -> None:
        await self.scheduler.pause_where(subs, reason)

    async def post_deleted(self, post_id: int) -> None:
        """A forum countdown's post was deleted: pause it (a moderator may have meant it); once resumed, its
        next post makes a new one."""
        await self.scheduler.post_gone(await countdowns.subscriptions_with_post(self.store, post_id))
