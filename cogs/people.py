"""Cast, crew, and a person's credits across the catalog."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.app import Marquee
from bot.transformers import PersonOption, TitleOption
from bot.ui import send_pages
from db import models

DEPARTMENT_CHOICES = [app_commands.Choice(name=d.capitalize(), value=d) for d in models.DEPARTMENTS]


class People(commands.Cog):
    def __init__(self, bot: Marquee) -> None:
        self.bot = bot

    @app_commands.command(name="cast", description="Who plays whom in a title, in billing order")
    @app_commands.describe(title="The film, series or game")
    async def cast(self, interaction: discord.Interaction, title: TitleOption) -> None:
        reads, guild = self.bot.reads, interaction.guild_id

        async def pages() -> render.PageList:
            credits = await reads.credits_for_title(title, guild, kind="cast")
            return render.cast_pages(title, credits, await reads.source_names())

        await send_pages(interaction, await reads.remember(("cast", title.id, guild), pages))

    @app_commands.command(name="crew", description="Who made a title: directors, writers, producers and more")
    @app_commands.describe(title="The film, series or game", department="Only this department (all if empty)")
    @app_commands.choices(department=DEPARTMENT_CHOICES)
    async def crew(self, interaction: discord.Interaction, title: TitleOption,
                   department: app_commands.Choice[str] | None = None) -> None:
        reads, guild = self.bot.reads, interaction.guild_id
        only = department.value if department else None

        async def pages() -> render.PageList:
            credits = await reads.credits_for_title(title, guild, kind="crew")
            return render.crew_pages(title, credits, await reads.source_names(), only)

        await send_pages(interaction, await reads.remember(("crew", title.id, guild, only), pages))

    @app_commands.command(name="person", description="A person's cast and crew credits across the catalog")
    @app_commands.describe(name="An actor or crew member, e.g. Keanu Reeves")
    async def person(self, interaction: discord.Interaction, name: PersonOption) -> None:
        reads, guild = self.bot.reads, interaction.guild_id

        async def pages() -> render.PageList:
            credits = await reads.credits_for_person(name, guild)
            years = await reads.first_release_years([c.title.id for c in credits], guild)
            return render.person_pages(name, credits, years, await reads.source_names())

        # The same pages for every member who asks, until the catalog changes (a page turn only reads them).
        await send_pages(interaction, await reads.remember(("person", name.id, guild), pages))


async def setup(bot: Marquee) -> None:
    await bot.add_cog(People(bot))
