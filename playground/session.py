"""The loopback Discord with a demo server and the real bot connected to it.

Shared by `marquee playground`, the end-to-end tests and the benchmarks, so all three run the same
bot the same way: real discord.py client, real SQLite file, injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import EXTENSIONS, Marquee, configure_endpoints
from bot.clock import Clock, ManualClock
from bot.settings import Settings
from db import packs
from db.store import Store
from playground.loopback import Channel, Guild, LoopbackDiscord, Member, Permissions, Role

ADMIN_PERMISSIONS = Permissions.MANAGE_GUILD | Permissions.MENTION_EVERYONE


@dataclass(slots=True)
class DemoServer:
    guild: Guild
    admin_role: Role
    fans_role: Role
    admin: Member
    member: Member
    channels: dict[str, Channel] = field(default_factory=dict)

    @property
    def general(self) -> Channel:
        return self.channels["general"]


def add_demo_server(dc: LoopbackDiscord, name: str = "Wick Fans") -> DemoServer:
    """A server like a small fan community: an admin, a member, and a few channels."""
    guild = dc.add_guild(name)
    admin_role = guild.add_role("Moderators", permissions=ADMIN_PERMISSIONS)
    fans_role = guild.add_role("Release pings", mentionable=True)
    admin = guild.add_member("ada", roles=[admin_role])
    member = guild.add_member("max", roles=[fans_role])
    channels = {
        "general": guild.add_text_channel("general"),
        "release-news": guild.add_text_channel("release-news"),
        # The bot may read but not post here: where a countdown subscription must be refused.
        "rules": guild.add_text_channel("rules", overwrites=[
            {"id": guild.bot_role.id, "type": 0, "allow": 0, "deny": Permissions.SEND_MESSAGES}]),
        # A forum: a countdown there gets a post of its own, named after the title.
        "release-forum": guild.add_forum_channel("release-forum"),
    }
    return DemoServer(guild, admin_role, fans_role, admin, member, channels)


@contextlib.asynccontextmanager
async def running_bot(dc: LoopbackDiscord, *, database: str | Path, clock: Clock | None = None,
                      guilds: tuple[Guild, ...] = (), extensions: tuple[str, ...] = EXTENSIONS,
                      before_start: object = None, **overrides: Any) -> AsyncIterator[Marquee]:
    """Start the real bot against the loopback (commands synced to `guilds`), stop it on exit.

    `overrides`: more Settings fields, e.g. tmdb_token= and tmdb_api_url= for the loopback TMDB."""
    settings = Settings(token=dc.token, database=str(database), dev_guilds=tuple(g.id for g in guilds),
                        api_base_url=dc.base_url, gateway_url=dc.gateway_url, log_level="WARNING", **overrides)
    restore_endpoints = configure_endpoints(settings)
    clock = clock or ManualClock(dt.datetime.now(dt.UTC))
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(restore_endpoints)
        store = await stack.enter_async_context(Store.open(settings.database))
        await packs.load_builtin_packs(store, now=clock.now())
        # discord.py waits guild_ready_timeout (2 s) for more guilds before on_ready; all arrive at once here.
        bot = Marquee(settings=settings, store=store, clock=clock, extensions=extensions, guild_ready_timeout=0.1)
        if callable(before_start):
            before_start(bot)
        await bot.login(dc.token)
        task = asyncio.create_task(bot.connect(reconnect=True), name="marquee-bot")
        try:
            await dc.wait_until_ready(timeout=20)
            for guild in guilds:
                await dc.wait_for_commands(guild, timeout=20)
            await asyncio.wait_for(bot.wait_until_ready(), timeout=20)
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
