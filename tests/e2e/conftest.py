"""One loopback Discord and one bot for the whole end-to-end session (fast: not one per test)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest_asyncio

from bot.app import Marquee
from bot.clock import ManualClock
from playground.loopback import LoopbackDiscord
from playground.session import DemoServer, add_demo_server, running_bot

# The bot's clock in these tests: today's date in the project (Ballerina came out 536 days earlier).
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@dataclass
class World:
    dc: LoopbackDiscord
    bot: Marquee
    clock: ManualClock
    home: DemoServer
    other: DemoServer
    mods: DemoServer  # where the admin tests edit the catalog, so the other modules see the shipped data
    countdown: DemoServer  # where the countdown tests subscribe and move the clock

    async def run(self, command: str, options: dict | None = None, *, member=None, channel=None, server=None,
                  **kwargs):
        server = server or self.home
        return await self.dc.run_command(server.guild, channel or server.general, member or server.member,
                                         command, options or {}, **kwargs)

    async def admin(self, command: str, options: dict | None = None, *, server=None, **kwargs):
        server = server or self.mods
        return await self.run(command, options, member=server.admin, server=server, **kwargs)

    async def complete(self, command: str, options: dict, focused: str, *, server=None):
        server = server or self.home
        return await self.dc.autocomplete(server.guild, server.general, server.member, command, options,
                                          focused=focused)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(tmp_path_factory):
    clock = ManualClock(NOW)
    async with LoopbackDiscord() as dc:
        dc.rate_limits = False  # the suite sends many messages quickly; rate limits have their own tests
        home = add_demo_server(dc, "Wick Fans")
        other = add_demo_server(dc, "Other Fans")
        mods = add_demo_server(dc, "Moderated Fans")
        countdown = add_demo_server(dc, "Countdown Fans")
        database = tmp_path_factory.mktemp("e2e") / "marquee.sqlite3"
        guilds = (home.guild, other.guild, mods.guild, countdown.guild)
        async with running_bot(dc, database=database, clock=clock, guilds=guilds) as bot:
            yield World(dc, bot, clock, home, other, mods, countdown)
