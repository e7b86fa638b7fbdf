"""Discord Scheduled Events that mirror the releases a server counts down to (`/settings events enabled:`).

One clear mechanism: `EventMirror.sync(guild)` makes the server's Events tab match what it follows. It lists
the server's events (one request), finds the bot's own by the marker at the end of their description (the
release's calendar UID), and creates what is missing, edits what changed (a moved date, a renamed title),
and deletes what is no longer followed (a removed countdown or title), soonest 100 first. Because the
state lives in Discord and is read back each time, a restart, a crash between a create and anything
after it, or a second process creates nothing twice. A date-only release is an event for its whole day
in the server's time zone; a timed release starts at its instant and lasts its runtime (or two hours).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot import calendar, timemath
from db.models import GuildSettings, Release

log = logging.getLogger(__name__)

MAX_EVENTS = 100  # Discord's limit of scheduled events per server
MARKER = "marquee:"  # the last line of the bot's events' descriptions: marquee:<calendar uid>


@dataclass(frozen=True, slots=True)
class EventSpec:
    uid: str
    name: str
    description: str
    location: str
    start: dt.datetime
    end: dt.datetime


def spec(guild_id: int, release: Release, tz: dt.tzinfo) -> EventSpec | None:
    value = release.value
    if value.date is None or value.precision != "day":
        return None
    if value.time is not None:
        start = timemath.release_instant(value)
        assert start is not None
        runtime = release.title.runtime
        end = start + (dt.timedelta(minutes=runtime) if runtime else calendar.TIMED_LENGTH)
    else:
        start = dt.datetime.combine(value.date, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(value.date + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    uid = calendar.uid(guild_id, release)
    description = calendar.describe(release)[:900] + f"\n{MARKER}{uid}"
    return EventSpec(uid, calendar.clean(release.title.name, 100) or release.title.slug, description,
                     calendar.where(release)[:100], start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def desired(guild_id: int, releases: Sequence[Release], tz: dt.tzinfo, now: dt.datetime) -> list[EventSpec]:
    """The events the server should have: future releases with an exact date, soonest first, at most 100."""
    specs = [s for r in releases if (s := spec(guild_id, r, tz)) is not None and s.start > now]
    specs.sort(key=lambda s: (s.start, s.name))
    return specs[:MAX_EVENTS]


def uid_of(event: Any) -> str | None:
    text = getattr(event, "description", None) or ""
    last = text.rsplit("\n", 1)[-1]
    return last[len(MARKER):] if last.startswith(MARKER) else None


def missing_permission(guild: discord.Guild) -> str | None:
    me = guild.me
    if me is None or not me.guild_permissions.manage_events:
        return ("I need the Manage Events permission to add releases to this server's Events tab. Give my role "
                "Manage Events (Server Settings > Roles), then turn events on again.")
    return None


class EventMirror:
    def __init__(self, *, client: discord.Client, releases: Callable[[int], Any],
                 settings_of: Callable[[int], GuildSettings], now: Callable[[], dt.datetime]) -> None:
        self.client = client
        self.releases = releases  # guild id -> awaitable list of the releases it follows
        self.settings_of = settings_of
        self.now = now
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[int] = set()

    def soon(self, guild_id: int) -> None:
        """Sync in the background (after a subscription or a date changed; a burst of changes is one sync);
        errors are logged."""
        if not self.settings_of(guild_id).events_enabled or guild_id in self._pending:
            return
        self._pending.add(guild_id)
        task = asyncio.create_task(self._quietly(guild_id), name=f"marquee-events-{guild_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for the background syncs (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _quietly(self, guild_id: int) -> None:
        try:
            await asyncio.sleep(0)  # let the rest of a burst of changes land first
            self._pending.discard(guild_id)
            await self.sync(guild_id)
        except Exception:
            log.exception("could not update the scheduled events of guild %s", guild_id)

    async def sync(self, guild_id: int, *, enabled: bool | None = None) -> tuple[int, int, int]:
        """Make the server's events match what it follows (all of the bot's events go when `enabled` is
        False). Returns (created, edited, deleted)."""
        guild = self.client.get_guild(guild_id)
        if guild is None or guild.unavailable:
            return 0, 0, 0
        on = self.settings_of(guild_id).events_enabled if enabled is None else enabled
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            me = self.client.user.id if self.client.user else 0
            existing: dict[str, Any] = {}
            extra: list[Any] = []
            for event in await guild.fetch_scheduled_events(with_counts=False):
                uid = uid_of(event)
                if uid is None or event.creator_id != me:
                    continue  # the server's own events are never touched
                if event.status is not discord.EventStatus.scheduled:
                    continue  # under way, over or cancelled: history, left alone
                if uid in existing:
                    extra.append(event)  # a twin (two processes at once): one stays
                else:
                    existing[uid] = event
            wanted: list[EventSpec] = []
            if on:
                tz = zoneinfo.ZoneInfo(self.settings_of(guild_id).timezone)
                wanted = desired(guild_id, await self.releases(guild_id), tz, self.now())
            keep = {s.uid for s in wanted}
            created = edited = deleted = 0
            for event in extra + [e for uid, e in existing.items() if uid not in keep]:
                await event.delete()
                deleted += 1
            for item in wanted:
                event = existing.get(item.uid)
                if event is None:
                    try:
                        await guild.create_scheduled_event(
                            name=item.name, start_time=item.start, end_time=item.end, description=item.description,
                            entity_type=discord.EntityType.external, location=item.location,
                            privacy_level=discord.PrivacyLevel.guild_only)
                    except discord.HTTPException as exc:
                        if exc.code != 30038:
                            raise
                        log.warning("guild %s has 100 scheduled events (some its own): the later releases get "
                                    "none", guild_id)
                        break
                    created += 1
                elif (event.name, event.description, event.location, event.start_time, event.end_time) != (
                        item.name, item.description, item.location, item.start, item.end):
                    await event.edit(name=item.name, description=item.description, location=item.location,
                                     start_time=item.start, end_time=item.end,
                                     entity_type=discord.EntityType.external)
                    edited += 1
            if created or edited or deleted:
                log.info("scheduled events of guild %s: %d created, %d updated, %d deleted", guild_id, created,
                         edited, deleted)
            return created, edited, deleted
