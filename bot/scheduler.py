"""The countdown dispatcher: one task that sleeps until the next due delivery and posts it exactly once.

It never scans every row on a timer: it asks the store for the earliest due instant (an index look-up),
sleeps until then (capped), and is woken early when subscriptions or dates change or the injected clock
jumps. Per pass: release moves are turned into recomputed plans and one "moved" notice per subscription;
then due deliveries are claimed (each message's nonce stored with its rows), sent, and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot import countdown, render
from db import countdowns
from db.countdowns import Delivery, Subscription
from db.models import Release

if TYPE_CHECKING:
    from bot.app import Marquee

log = logging.getLogger(__name__)

# Well under asyncio's ~48-day limit. The look every 15 minutes costs one index look-up, and picks up
# what another process changed (an operator's `marquee db import` that moved a date).
MAX_SLEEP = dt.timedelta(minutes=15)
LATE_AFTER = dt.timedelta(minutes=5)
RETRY_BASE = dt.timedelta(seconds=30)
# Discord allows 50 requests per second per bot (interaction answers are exempt): posting stays a little
# under it, so a burst of due posts never causes a 429 of our own.
POSTS_PER_SECOND = 48.0
LOST_ACCESS = {10003: "the channel was deleted", 50001: "I can no longer see the channel",
               50013: "I lost the permission to post there", 50007: "the member does not accept DMs"}


def nonce_for(delivery_ids: Sequence[int]) -> str:
    """Deterministic, at most 25 characters: the same rows always give the same nonce."""
    digest = hashlib.sha256(",".join(str(i) for i in sorted(delivery_ids)).encode()).hexdigest()
    return f"mq{min(delivery_ids)}-{digest}"[:25]


def label_of(milestone: str) -> str:
    return milestone.split("@", 1)[0]


class Scheduler:
    def __init__(self, bot: Marquee) -> None:
        self.bot = bot
        self.store = bot.store
        self.wake_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0  # for tests and the benchmark: how often it woke up
        self.sleeping = False  # between passes (tests wait for this after moving the clock)
        self.checked_at: dt.datetime | None = None  # the clock reading of the last "nothing more is due"
        self.pacer = Pacer(POSTS_PER_SECOND)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="marquee-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self.wake_event.set()

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            self.wake_event.clear()
            try:
                await self.run_once()
                next_due = await countdowns.next_due(self.store)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("countdown pass failed; retrying in a minute")
                next_due = self.bot.clock.now() + dt.timedelta(minutes=1)
            await self._sleep_until(next_due)

    async def _sleep_until(self, instant: dt.datetime | None) -> None:
        now = self.bot.clock.now()
        limit = now + MAX_SLEEP
        target = min(instant, limit) if instant else limit
        if target <= now:
            return
        self.sleeping = True
        waits = [asyncio.ensure_future(self.wake_event.wait())]
        changed = getattr(self.bot.clock, "changed", None)
        if isinstance(changed, asyncio.Event):  # a held clock (tests, playground): wake when it moves
            waits.append(asyncio.ensure_future(changed.wait()))
        try:
            await asyncio.wait(waits, timeout=(target - now).total_seconds(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.sleeping = False
            for waiter in waits:
                waiter.cancel()

    # -- one pass ---------------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Handle moves, then send everything due. Returns how many messages were sent."""
        self.passes += 1
        await self._handle_moves()
        sent = 0
        while True:
            now = self.bot.clock.now()
            due = await countdowns.runnable(self.store, now)
            if not due:
                self.checked_at = now
                return sent
            sent += await self._dispatch(due, now)
            if len(due) < 500:  # that was everything due by `now`
                self.checked_at = now
                return sent

    async def _dispatch(self, due: list[Delivery], now: dt.datetime) -> int:
        # After downtime, each subscription posts only its latest missed milestone (marked late).
        by_subscription: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_subscription[delivery.subscription.id].append(delivery)
        chosen: list[Delivery] = []
        skipped: list[int] = []
        for items in by_subscription.values():
            resend = [d for d in items if d.state == "claimed"]
            fresh = [d for d in items if d.state == "pending"]
            chosen += resend
            notices = [d for d in fresh if d.milestone.startswith("moved:")]
            milestones = [d for d in fresh if not d.milestone.startswith("moved:")]
            chosen += notices
            if milestones:
                latest = max(milestones, key=lambda d: (d.due_at, d.id))
                chosen.append(latest)
                skipped += [d.id for d in milestones if d is not latest]
        # Deliveries due for one channel at once go out as one message.
        groups: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
        for delivery in chosen:
            sub = delivery.subscription
            target = ("channel", sub.channel_id) if sub.kind == "channel" else ("dm", sub.user_id)
            groups[target].append(delivery)  # type: ignore[index]
        batches = []
        for items in groups.values():
            claimed = [d for d in items if d.batch]
            if claimed:  # a retry keeps its nonce, so Discord can answer with the first message
                by_batch: dict[str, list[Delivery]] = defaultdict(list)
                for d in claimed:
                    by_batch[d.batch or ""].append(d)
                batches += list(by_batch.items())
                items = [d for d in items if not d.batch]
            if items:
                batches.append((nonce_for([d.id for d in items]), items))
        late = {d.id for d in chosen if d.state == "pending" and now - d.due_at > LATE_AFTER}
        await countdowns.claim(self.store, [(n, [d.id for d in ds], [d.id for d in ds if d.id in late])
                                            for n, ds in batches], skipped, now)
        sent = 0
        for nonce, items in batches:
            items = [d if d.id not in late else _with_late(d) for d in items]
            sent += await self._send(nonce, items)
        return sent

    async def _send(self, nonce: str, items: list[Delivery]) -> int:
        sub = items[0].subscription
        now = self.bot.clock.now()
        ids = [d.id for d in items]
        try:
            content, mentions = await self._compose(items)
            destination = await self._destination(sub)
            await self.pacer.wait()
            message = await destination.send(content, allowed_mentions=mentions, nonce=nonce)
        except discord.HTTPException as exc:
            await self._failed(items, exc)
            return 0
        except _Gone as exc:
            await self._lost_access(items, str(exc))
            return 0
        await countdowns.mark_sent(self.store, ids, message.id, now)
        log.info("posted %s for guild %s (%s)", ", ".join(label_of(d.milestone) for d in items), sub.guild_id,
                 nonce)
        return 1

    async def _destination(self, sub: Subscription) -> discord.abc.Messageable:
        if sub.kind == "dm":
            assert sub.user_id is not None
            user = self.bot.get_user(sub.user_id) or await self.bot.fetch_user(sub.user_id)
            return user.dm_channel or await user.create_dm()
        assert sub.channel_id is not None
        channel = self.bot.get_channel(sub.channel_id)
        if channel is None:
            guild = self.bot.get_guild(sub.guild_id)
            if guild is None:
                raise _Gone("I am no longer in that server")
            raise _Gone("the channel was deleted")
        return channel  # type: ignore[return-value]

    async def _compose(self, items: list[Delivery]) -> tuple[str, discord.AllowedMentions]:
        lines: list[str] = []
        roles: list[int] = []
        everyone = False
        for delivery in items:
            sub = delivery.subscription
            title = render.safe(sub.title_name, 100)
            release = await self._release(sub)
            if sub.role_id == sub.guild_id:
                everyone = True
            elif sub.role_id and sub.role_id not in roles:
                roles.append(sub.role_id)
            if delivery.milestone.startswith("moved:"):
                old = await countdowns.moved_from(self.store, int(delivery.milestone.split(":", 1)[1]))
                if old is not None and release is not None:
                    lines.append(countdown.moved_line(title, old, release.value))
                continue
            if release is None:
                continue
            milestone = countdown.Milestone.parse(label_of(delivery.milestone))
            lines.append(countdown.milestone_line(title, milestone, release.value, late=delivery.late))
        prefix = " ".join(["@everyone"] * everyone + [f"<@&{r}>" for r in roles])
        content = (prefix + "\n" if prefix else "") + "\n".join(lines or ["(nothing to announce)"])
        mentions = discord.AllowedMentions(everyone=everyone, users=False, replied_user=False,
                                           roles=[discord.Object(r) for r in roles])
        return content[:2000], mentions

    async def _release(self, sub: Subscription) -> Release | None:
        return await self.bot.reads.release_of(sub.title_slug, sub.guild_id, sub.region, sub.medium)

    # -- failures ---------------------------------------------------------------------------------------

    async def _failed(self, items: list[Delivery], exc: discord.HTTPException) -> None:
        code = getattr(exc, "code", 0)
        if exc.status in (403, 404) or code in LOST_ACCESS:
            reason = LOST_ACCESS.get(code) or f"Discord answered {exc.status}"
            if items[0].subscription.kind == "dm":
                await countdowns.mark_retry(self.store, [d.id for d in items], reason, None, self.bot.clock.now())
                log.info("DM to %s not delivered: %s", items[0].subscription.user_id, reason)
                return
            await self._lost_access(items, reason)
            return
        # 429/5xx after discord.py's own retries: back off, a bounded number of times.
        attempts = max(d.attempts for d in items) + 1
        now = self.bot.clock.now()
        error = f"Discord answered {exc.status} ({exc.text[:100] if exc.text else 'no detail'})"
        if attempts >= countdowns.MAX_ATTEMPTS:
            await countdowns.mark_retry(self.store, [d.id for d in items], error, None, now)
            log.warning("gave up on a countdown post for guild %s after %d attempts: %s",
                        items[0].subscription.guild_id, attempts, error)
            name = render.safe(items[0].subscription.title_name)
            await self.alert(items[0].subscription, f"A countdown post for **{name}** could not be delivered "
                                                    f"after {attempts} attempts ({error}).")
            return
        retry_at = now + RETRY_BASE * (2 ** (attempts - 1))
        await countdowns.mark_retry(self.store, [d.id for d in items], error, retry_at, now)
        log.warning("countdown post for guild %s failed (%s); retrying at %s", items[0].subscription.guild_id,
                    error, retry_at.isoformat())

    async def _lost_access(self, items: list[Delivery], reason: str) -> None:
        """403/404: pause the subscription (no more attempts), put the rows back, tell the server once."""
        now = self.bot.clock.now()
        subs = {d.subscription.id: d.subscription for d in items}
        await countdowns.release_claims(self.store, [d.id for d in items], now)
        newly = await countdowns.pause(self.store, subs, reason, now)
        for sid in newly:
            sub = subs[sid]
            log.warning("paused countdown subscription %s in guild %s: %s", sid, sub.guild_id, reason)
            await self.alert(sub, f"Countdown posts for **{render.safe(sub.title_name)}** in <#{sub.channel_id}> "
                                  f"are paused: {reason}. Fix it, then run /reminders resume id:{sid}.")

    async def pause_where(self, subs: Sequence[Subscription], reason: str) -> None:
        """Pause after a channel/role deletion or the bot leaving a server (gateway events)."""
        newly = await countdowns.pause(self.store, [s.id for s in subs], reason, self.bot.clock.now())
        for sub in subs:
            if sub.id in newly:
                log.warning("paused countdown subscription %s in guild %s: %s", sub.id, sub.guild_id, reason)
                await self.alert(sub, f"Countdown posts for **{render.safe(sub.title_name)}** are paused: {reason}. "
                                      f"Run /reminders resume id:{sub.id} when it is fixed.")

    async def alert(self, sub: Subscription, text: str) -> None:
        """Tell the server in its alerts channel, if it has one the bot can post in (never retried)."""
        settings = self.bot.guild_settings(sub.guild_id)
        channel = self.bot.get_channel(settings.alerts_channel_id) if settings.alerts_channel_id else None
        if channel is None or channel.id == sub.channel_id:
            return
        try:
            await channel.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
        except discord.HTTPException as exc:
            log.warning("could not post an alert in guild %s: %s", sub.guild_id, exc)

    # -- moves ------------------------------------------------------------------------------------------

    async def _handle_moves(self) -> None:
        for move in await countdowns.unseen_moves(self.store):
            for sub in await countdowns.subscriptions_for(self.store, move.title_id,
                                                          move.guild_id if move.guild_id else None):
                if (sub.region, sub.medium) != (move.region, move.medium):
                    continue
                release = await self._release(sub)
                if release is None or release.id != move.release_id:
                    continue  # this server follows its own row for that release, which did not move
                await self.replan(sub, release, notice=f"moved:{move.id}")
            await countdowns.mark_moves_seen(self.store, move.id)

    async def follow(self, subs: Sequence[Subscription]) -> None:
        """Plan these subscriptions again from their release as it is now (a new row, a new time zone)."""
        for sub in subs:
            release = await self._release(sub)
            if release is not None:
                await self.replan(sub, release)
        self.wake()

    async def replan(self, sub: Subscription, release: Release, *, notice: str | None = None) -> None:
        planned = self.plan(sub, release)
        await countdowns.replan(self.store, sub, release.id, planned, self.bot.clock.now(), notice)

    def plan(self, sub: Subscription, release: Release) -> list[tuple[str, dt.datetime]]:
        """The subscription's milestones for this release: (key, due) with the key '7d@2027-03-14'."""
        settings = self.bot.guild_settings(sub.guild_id)
        tz = zoneinfo.ZoneInfo(settings.timezone)
        milestones = countdown.parse_milestones(sub.milestones)
        key = release.value.date.isoformat() if release.value.date else "tba"
        if release.value.time:
            key += f"T{release.value.time:%H:%M}"
        return [(f"{m.label}@{key}", due) for m, due in countdown.plan(release.value, milestones, tz,
                                                                          settings.posting_hour)]


class Pacer:
    """At most `rate` sends per second of real (loop) time: rate limits are physical, not the bot's clock."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


class _Gone(Exception):
    """The destination no longer exists for the bot (channel deleted, server left)."""


def _with_late(delivery: Delivery) -> Delivery:
    from dataclasses import replace

    return replace(delivery, late=True)
