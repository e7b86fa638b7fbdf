"""Run-time permission checks shared by the admin cogs and the countdown commands."""

from __future__ import annotations

import discord
from discord import app_commands

POST_PERMISSIONS = ("view_channel", "send_messages", "embed_links")


def require_manage_guild(interaction: discord.Interaction) -> None:
    """Discord lets server admins override default_member_permissions: check again, every time."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])


def missing_post_permissions(channel: discord.abc.GuildChannel, member: discord.Member | None) -> str | None:
    """What the bot lacks to post embeds in the channel ('Send Messages, Embed Links'), or None."""
    if member is None:
        return "View Channel, Send Messages, Embed Links"
    perms = channel.permissions_for(member)
    missing = [p.replace("_", " ").title() for p in POST_PERMISSIONS if not getattr(perms, p)]
    return ", ".join(missing) or None
