"""Release dates, title info, countdowns, what is coming, the timeline, and where to watch."""

from __future__ import annotations

import datetime as dt
import io
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, timemath
from bot.app import Marquee
from bot.transformers import FranchiseOption, RegionOption, TitleOption
from bot.ui import send_pages
from db import models


class Catalog(commands.Cog):
    def __init__(self, bot: Marquee) -> None:
        self.bot = bot

    def _context(self, interaction: discord.Interaction) -> tuple:
        return self.bot.clock.now(), self.bot.guild_timezone(interaction.guild_id)

    @app_commands.command(name="release", description="Every known release date of a title, with its history")
    @app_commands.describe(title="The film, series or game", region="A country, e.g. US or GB (all if empty)")
    async def release(self, interaction: discord.Interaction, title: TitleOption,
                      region: RegionOption | None = None) -> None:
        now, tz = self._context(interaction)
        releases = await self.bot.reads.releases_for_title(title, interaction.guild_id, region=region)
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.release_pages(title, releases, now, tz, names, region))

    @app_commands.command(name="info", description="Synopsis, status, timeline place, release and cast of a title")
    @app_commands.describe(title="The film, series or game")
    async def info(self, interaction: discord.Interaction, title: TitleOption) -> None:
        now, tz = self._context(interaction)
        guild = interaction.guild_id
        releases = await self.bot.reads.releases_for_title(title, guild)
        credits = await self.bot.reads.credits_for_title(title, guild)
        story = sorted((t for t in await self.bot.reads.titles(guild, franchise=title.franchise.slug)
                        if t.story_order is not None), key=lambda t: (t.story_order, t.name))
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.info_pages(title, releases, credits, story, now, tz, names))

    @app_commands.command(name="countdown", description="How long until a title's next release")
    @app_commands.describe(title="The film, series or game")
    async def countdown(self, interaction: discord.Interaction, title: TitleOption) -> None:
        now, tz = self._context(interaction)
        releases = await self.bot.reads.releases_for_title(title, interaction.guild_id)
        release, upcoming = timemath.next_release(releases, now, tz)
        await send_pages(interaction, render.countdown_pages(title, release, upcoming, now, tz))

    @app_commands.command(name="upcoming", description="The next releases, soonest first")
    @app_commands.describe(franchise="Only this franchise (all if empty)")
    async def upcoming(self, interaction: discord.Interaction, franchise: FranchiseOption | None = None) -> None:
        now, tz = self._context(interaction)
        guild = interaction.guild_id
        slug = franchise.slug if franchise else None
        today = now.astimezone(tz).date()
        ahead = [r for r in await self.bot.reads.releases(guild, franchise=slug, after=today - _ONE_DAY)
                 if r.value.date is not None and timemath.is_upcoming(r.value, now, tz)]
        ahead.sort(key=lambda r: timemath.sort_key(r.value))
        titles = await self.bot.reads.titles(guild, franchise=slug)
        dated = {r.title.id for r in await self.bot.reads.releases(guild, franchise=slug)
                 if r.value.date is not None}
        undated = [t for t in titles if t.id not in dated and t.status != "released"]
        latest = None
        if not ahead:
            past = await self.bot.reads.releases(guild, franchise=slug, before=today + _ONE_DAY,
                                                 newest_first=True, limit=10)
            # Of the releases on the latest date, the one in the server's region (or the US) reads best.
            home = self.bot.guild_settings(guild).region or "US"
            latest = next((r for r in past if r.value.date == past[0].value.date and r.region == home),
                          past[0] if past else None)
        await send_pages(interaction, render.upcoming_pages(ahead[:50], undated, latest, now, tz, franchise))

    @app_commands.command(name="calendar", description="A calendar file of the releases this server counts down to")
    @app_commands.describe(franchise="Only this franchise (all if empty)")
    @app_commands.guild_only()
    async def calendar(self, interaction: discord.Interaction, franchise: FranchiseOption | None = None) -> None:
        assert interaction.guild_id is not None
        slug = franchise.slug if franchise else None
        feed = self.bot.feed
        releases = await feed.releases(interaction.guild_id, slug)
        data = await feed.ics(interaction.guild_id, releases)
        dated = sum(1 for r in releases if r.value.date is not None and r.value.precision == "day")
        scope = f" in **{render.safe(franchise.name)}**" if franchise else ""
        if not releases:
            text = (f"This server counts down to no release{scope} yet, so the calendar is empty. An admin can add "
                    "countdowns with /reminders add.")
        else:
            text = (f"{dated} release{'s' if dated != 1 else ''}{scope} this server counts down to "
                    f"(undated ones are left out). Open the file to add them to your calendar.")
        if feed.enabled:
            link = await feed.link(interaction.guild_id, slug)
            text += (f"\nOr subscribe, and your calendar follows every move: <{link}> (keep it to this server: "
                     "anyone with the link can read it).")
        name = f"marquee-{slug or 'releases'}.ics"
        await interaction.response.send_message(text, file=discord.File(io.BytesIO(data), filename=name),
                                                ephemeral=True)

    @app_commands.command(name="timeline", description="The titles in release order or in story order")
    @app_commands.describe(franchise="Only this franchise (all if empty)",
                           order="release: as they came out; story: in-universe order")
    async def timeline(self, interaction: discord.Interaction, franchise: FranchiseOption | None = None,
                       order: Literal["release", "story"] = "release") -> None:
        guild = interaction.guild_id
        slug = franchise.slug if franchise else None
        titles = await self.bot.reads.titles(guild, franchise=slug)
        first: dict[int, models.Release] = {}
        for release in await self.bot.reads.releases(guild, franchise=slug):
            known = first.get(release.title.id)
            if release.value.date and (known is None or timemath.sort_key(release.value)
                                       < timemath.sort_key(known.value)):
                first[release.title.id] = release
        if order == "story":
            titles.sort(key=lambda t: (t.story_order is None, t.story_order or 0, t.name))
        else:
            titles.sort(key=lambda t: (t.id not in first,
                                       timemath.sort_key(first[t.id].value) if t.id in first else (0,), t.name))
        entries = [(t, first.get(t.id)) for t in titles]
        await send_pages(interaction, render.timeline_pages(entries, order, franchise))

    @app_commands.command(name="watch", description="Where to stream, rent or buy a title")
    @app_commands.describe(title="The film or series", region="A country, e.g. US or GB (all if empty)")
    async def watch(self, interaction: discord.Interaction, title: TitleOption,
                    region: RegionOption | None = None) -> None:
        now, tz = self._context(interaction)
        guild = interaction.guild_id
        offers = await self.bot.reads.watch_offers(title, guild, region=region)
        releases = await self.bot.reads.releases_for_title(title, guild, region=region)
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.watch_pages(title, offers, releases, now, tz, names, region))


_ONE_DAY = dt.timedelta(days=1)


async def setup(bot: Marquee) -> None:
    await bot.add_cog(Catalog(bot))
