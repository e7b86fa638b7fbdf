"""/help: what the bot can do, with one example per command."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.app import Marquee
from bot.tmdb import ATTRIBUTION

EXAMPLES = {
    "release": "/release title:Ballerina",
    "info": "/info title:Parabellum",
    "cast": "/cast title:JW4",
    "crew": "/crew title:Ballerina department:Writing",
    "person": "/person name:Lance Reddick",
    "watch": "/watch title:John Wick region:US",
    "upcoming": "/upcoming",
    "timeline": "/timeline order:story",
    "countdown": "/countdown title:Ballerina",
    "calendar": "/calendar franchise:John Wick",
    "help": "/help",
    "remindme": "/remindme add title:Ballerina",
    "reminders": "/reminders add title:Ballerina channel:#release-news milestones:30d,7d,1d,0",
    "settings": "/settings timezone timezone:Europe/London",
    "catalog": "/catalog set-release title:Ballerina date:2025-06-06 region:US",
}


class Help(commands.Cog):
    def __init__(self, bot: Marquee) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What Marquee can do, with an example for each command")
    async def help(self, interaction: discord.Interaction) -> None:
        is_admin = bool(interaction.permissions and interaction.permissions.manage_guild)
        everyone, admin = [], []
        for command in sorted(self.bot.tree.get_commands(), key=lambda c: c.name):
            if not isinstance(command, app_commands.Command | app_commands.Group):
                continue
            perms = command.default_permissions
            line = f"**/{command.name}** — {command.description}"
            example = EXAMPLES.get(command.name)
            if example:
                line += f"\n  e.g. `{example}`"
            (admin if perms is not None and perms.value else everyone).append(line)
        sections = [render.Section("Everyone", everyone)]
        if is_admin and admin:
            sections.append(render.Section("Admins (Manage Server)", admin))
        pages = render.paginate(
            "Marquee — release dates, cast, crew and countdowns",
            description="Type a command and pick a title from the suggestions; nicknames and typos work "
                        "(`jw4`, `parabellum`, `balerina`).\n\n"
                        f"Data: hand-checked data packs, and TMDB where this bot's operator or a server's admins "
                        f"imported from it. {ATTRIBUTION} Where-to-watch data from TMDB comes from JustWatch.",
            sections=sections)
        await interaction.response.send_message(embeds=pages[:10], ephemeral=True)


async def setup(bot: Marquee) -> None:
    await bot.add_cog(Help(bot))
