"""The Bot: built from resources created in main() (settings, store, clock) and passed in."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import hashlib
import json
import logging
import zoneinfo
from collections.abc import Callable

import discord
import yarl
from discord.ext import commands

from bot.budget import POSTS_PER_SECOND, Pacer, RequestBudget
from bot.catalog import Catalog
from bot.clock import Clock
from bot.collector import IdleCollector
from bot.countdown_service import CountdownService
from bot.events import EventMirror
from bot.feed import CalendarFeed
from bot.readcache import ReadCache
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.shards import ShardScope
from bot.tmdb import RefreshResult, TMDBService
from bot.tree import MarqueeTree
from db import leases, queries
from db import tmdb as tmdb_links
from db.models import GuildSettings
from db.store import Store

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.catalog", "cogs.people", "cogs.help", "cogs.admin", "cogs.reminders")
COMMAND_HASH_KEY = "commands.global.sha256"
IDENTIFY_WINDOW = dt.timedelta(seconds=5.2)  # Discord's 5 s per identify bucket, and a little margin


def configure_endpoints(settings: Settings) -> Callable[[], None]:
    """Point discord.py at Discord, a REST/gateway proxy, or the loopback Discord.

    discord.py keeps these process-wide; the returned function puts back what was there before.
    """
    previous = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = settings.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)

    def restore() -> None:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = previous

    return restore


def intents() -> discord.Intents:
    """Only what slash commands and countdown posts need: no privileged intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


class Marquee(commands.AutoShardedBot):
    """An auto-sharded bot: the shards MARQUEE_SHARD_IDS of MARQUEE_SHARD_COUNT, or every shard Discord
    recommends. It posts countdowns for the servers of its own shards."""

    def __init__(self, *, settings: Settings, store: Store, clock: Clock,
                 extensions: tuple[str, ...] = EXTENSIONS, sync_commands: bool = True,
                 guild_ready_timeout: float = 2.0) -> None:
        budget = RequestBudget()
        pacer = Pacer(POSTS_PER_SECOND, store, api_base=settings.api_base_url)
        super().__init__(
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,
            http_trace=budget.trace_config(pacer),
            guild_ready_timeout=guild_ready_timeout,
            command_prefix=commands.when_mentioned,
            intents=intents(),
            tree_cls=MarqueeTree,
            help_command=None,
            # No message cache: the bot reads no messages (no message intent), and a cache of the last 1,000 posts
            # only adds to what the garbage collector walks during a wave.
            max_messages=None,
            # Nothing the bot says pings anyone unless a message opts in to exactly one role.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.store = store
        self.clock = clock
        self.reads = ReadCache(store)
        self.collector: IdleCollector | None = IdleCollector()  # garbage collections between answers, not during them
        self.catalog = Catalog(store, self.reads)
        self.initial_extensions = extensions
        self.sync_commands = sync_commands
        self.failed_extensions: dict[str, str] = {}
        self._guild_settings: dict[int, GuildSettings] = {}
        self.scheduler = Scheduler(
            store=store, clock=clock, client=self, reads=self.reads, settings_of=self.guild_settings, budget=budget,
            lease_ttl=dt.timedelta(seconds=settings.lease_seconds),
            nonce_window=dt.timedelta(seconds=settings.nonce_window_seconds),
            send_timeout=min(10.0, settings.nonce_window_seconds / 4),
            shards=ShardScope.of(settings.shard_count, settings.shard_ids), pacer=pacer)
        self.countdowns = CountdownService(store=store, clock=clock, reads=self.reads,
                                           settings_of=self.guild_settings, scheduler=self.scheduler)
        self.feed = CalendarFeed(store=store, reads=self.reads, clock=clock, settings=settings,
                                 guild_name=lambda gid: getattr(self.get_guild(gid), "name", None))
        self.events = EventMirror(client=self, releases=self.feed.releases, settings_of=self.guild_settings,
                                  now=clock.now)
        self.scheduler.followed_changed = self.events.soon
        self.countdowns.followed_changed = self.events.soon
        self.tmdb: TMDBService | None = None
        if settings.tmdb_token:
            self.tmdb = TMDBService(store=store, clock=clock, base_url=settings.tmdb_api_url,
                                    token=settings.tmdb_token, daily_cap=settings.tmdb_daily_cap)
        self._tmdb_task: asyncio.Task[None] | None = None
        self._max_concurrency: int | None = None
        self._identifies = 0

    def guild_settings(self, guild_id: int | None) -> GuildSettings:
        """A server's settings, from memory (loaded at start-up, updated by /settings)."""
        if guild_id is None:
            return GuildSettings(0)
        return self._guild_settings.get(guild_id) or GuildSettings(guild_id)

    def remember_settings(self, settings: GuildSettings) -> None:
        self._guild_settings[settings.guild_id] = settings

    def guild_timezone(self, guild_id: int | None) -> dt.tzinfo:
        """The time zone "days until" and posting hours are counted in for this server."""
        return zoneinfo.ZoneInfo(self.guild_settings(guild_id).timezone)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord lets the bot token IDENTIFY `max_concurrency` shards per 5 seconds per bucket (shard id
        modulo max_concurrency), whichever process sends them: each IDENTIFY takes its bucket's lease in the
        store for those 5 seconds, so processes starting at once take turns instead of bursting."""
        if self._max_concurrency is None:
            try:
                self._max_concurrency = max(1, (await self.fetch_session_start_limits()).max_concurrency)
            except (discord.HTTPException, KeyError, TypeError):
                self._max_concurrency = 1
        bucket = (shard_id or 0) % self._max_concurrency
        self._identifies += 1
        owner, name = f"{self.scheduler.owner}:identify:{self._identifies}", f"identify:{bucket}"
        # Another process may hold the bucket: nothing in this one to wait on, so look again shortly. Rate
        # limits are physical: the wall clock, not the bot's held clock.
        while not await leases.acquire(self.store, name, owner, dt.datetime.now(dt.UTC), IDENTIFY_WINDOW):  # noqa: ASYNC110
            await asyncio.sleep(0.25)

    async def on_message(self, message: discord.Message) -> None:
        """Slash commands only: no prefix commands, so messages need no processing."""

    async def setup_hook(self) -> None:
        self._guild_settings = await queries.all_guild_settings(self.store)
        for name in self.initial_extensions:
            try:
                await self.load_extension(name)
            except Exception as exc:
                self.failed_extensions[name] = repr(exc)
                log.exception("extension %s failed to load; the rest of the bot carries on", name)
        if self.sync_commands:
            await self.sync_application_commands()
        # Build the search indexes before the gateway connects: the first autocomplete must not wait.
        await self.catalog.warm()
        self.scheduler.start()  # it waits for the gateway's READY before its first pass
        await self.feed.start()  # the calendar feed, when MARQUEE_WEB_PORT is set
        if self.tmdb is not None and self.settings.tmdb_refresh_minutes > 0:
            self._tmdb_task = asyncio.create_task(self._refresh_from_tmdb(), name="marquee-tmdb-refresh")

    async def close(self) -> None:
        if self._tmdb_task is not None:
            self._tmdb_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tmdb_task
        await self.scheduler.stop()
        await self.feed.stop()
        await super().close()
        if self.collector is not None:
            self.collector.uninstall()

    async def refresh_tmdb(self) -> RefreshResult:
        """Rebuild every TMDB import from TMDB now. A moved date is recorded like any other move, and the
        dispatcher posts it once (and DMs the members who asked for a reminder)."""
        assert self.tmdb is not None
        outcome = await self.tmdb.refresh()
        if outcome.done or outcome.failed:
            log.info("refreshed %d TMDB imports (%d failed), %d release dates moved", len(outcome.done),
                     len(outcome.failed), len(outcome.moved))
        if outcome.moved:
            self.countdowns.dates_changed()
        return outcome

    async def _refresh_from_tmdb(self) -> None:
        """Every MARQUEE_TMDB_REFRESH_MINUTES, for as long as the bot runs. The first one comes when the
        oldest import is due, so a bot restarted more often than the interval still refreshes."""
        interval = self.settings.tmdb_refresh_minutes * 60
        oldest = await tmdb_links.oldest_refresh(self.store)
        wait = interval if oldest is None else (oldest - self.clock.now()).total_seconds() + interval
        while True:
            await asyncio.sleep(min(max(wait, 1.0), interval))
            wait = interval
            try:
                # One process refreshes per interval, however many run on this store.
                if not await leases.acquire(self.store, "tmdb-refresh", self.scheduler.owner, self.clock.now(),
                                            dt.timedelta(seconds=interval * 0.9)):
                    continue
                await self.refresh_tmdb()
            except Exception:
                log.exception("the TMDB refresh failed; trying again in %.1f minutes", interval / 60)

    def command_payload(self) -> list[dict]:
        return sorted((c.to_dict(self.tree) for c in self.tree.get_commands()), key=lambda c: c["name"])

    def command_hash(self) -> str:
        blob = json.dumps(self.command_payload(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    async def sync_application_commands(self, *, force: bool = False) -> str:
        """Dev guilds: copy and sync there every start. Otherwise global, only when the set changed. When
        several processes start at once, one of them syncs (a lease) and the others leave it to it."""
        holder = await leases.current(self.store, "command-sync")
        dead = holder.owner if holder is not None and self.scheduler.died_here(holder.owner) else None
        if not force and not await leases.acquire(self.store, "command-sync", self.scheduler.owner,
                                                  self.clock.now(), dt.timedelta(minutes=2), take_from=dead):
            log.info("another process is syncing the commands")
            return "elsewhere"
        try:
            return await self._sync_application_commands(force=force)
        finally:
            if not force:
                await leases.release(self.store, "command-sync", self.scheduler.owner)

    async def _sync_application_commands(self, *, force: bool = False) -> str:
        if self.settings.dev_guilds:
            for guild_id in self.settings.dev_guilds:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                try:
                    synced = await self.tree.sync(guild=guild)
                except discord.HTTPException as exc:  # an outage: keep serving the commands synced before
                    log.warning("could not sync commands to development guild %s (%s); keeping the ones "
                                "registered before", guild_id, exc)
                    continue
                log.info("synced %d commands to development guild %s", len(synced), guild_id)
            return "guild"
        digest = self.command_hash()
        if not force and await self.store.get_meta(COMMAND_HASH_KEY) == digest:
            log.info("global commands unchanged since the last sync; not syncing")
            return "unchanged"
        synced = await self.tree.sync()
        await self.store.set_meta(COMMAND_HASH_KEY, digest)
        log.info("synced %d global commands", len(synced))
        return "global"

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d servers", self.user, getattr(self.user, "id", "?"), len(self.guilds))
        # The servers, channels and search indexes now loaded live as long as the process: moved out of the
        # garbage collector's way, so its full collections stop pausing the event loop for a tenth of a second
        # at 10,000 channels (a pause that makes posts miss their request slots, and bunch).
        gc.freeze()
        if self.collector is not None:  # None: a benchmark compares without it
            self.collector.install()  # from now on, collections run between answers (bot/collector.py)
        for guild in self.guilds:  # changes made while this process was down: the Events tab catches up
            self.events.soon(guild.id)
