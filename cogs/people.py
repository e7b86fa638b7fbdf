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
        credits = await self.bot.reads.credits_for_title(title, interaction.guild_id, kind="cast")
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.cast_pages(title, credits, names))

    @app_commands.command(name="crew", description="Who made a title: directors, writers, producers and more")
    @app_commands.describe(title="The film, series or game", department="Only this department (all if empty)")
    @app_commands.choices(department=DEPARTMENT_CHOICES)
    async def crew(self, interaction: discord.Interaction, title: TitleOption,
                   department: app_commands.Choice[str] | None = None) -> None:
        credits = await self.bot.reads.credits_for_title(title, interaction.guild_id, kind="crew")
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.crew_pages(title, credits, names,
                                                        department.value if department else None))

    @app_commands.command(name="person", description="A person's cast and crew credits across the catalog")
    @app_commands.describe(name="An actor or crew member, e.g. Keanu Reeves")
    async def person(self, interaction: discord.Interaction, name: PersonOption) -> None:
        guild = interaction.guild_id
        credits = await self.bot.reads.credits_for_person(name, guild)
        years = await self.bot.reads.first_release_years([c.title.id for c in credits], guild)
        names = await self.bot.reads.source_names()
        await send_pages(interaction, render.person_pages(name, credits, years, names))


async def setup(bot: Marquee) -> None:
    await bot.add_cog(People(bot))
