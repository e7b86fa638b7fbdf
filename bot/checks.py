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


def ping_problem(role: discord.Role, channel: discord.abc.GuildChannel, me: discord.Member | None) -> str | None:
    """Why a countdown post in `channel` could not ping `role`, with the fix, or None when it can.

    Discord pings a role only when it is mentionable or the bot has Mention Everyone in the channel;
    @everyone needs the bot's Mention Everyone. allowed_mentions cannot make an unmentionable role ping."""
    can_everyone = me is not None and channel.permissions_for(me).mention_everyone
    where = getattr(channel, "mention", "that channel")
    if role.is_default():
        if can_everyone:
            return None
        return (f"I can't ping @everyone in {where}: I don't have the Mention Everyone permission there. Give me "
                f"Mention Everyone in {where}, or leave `role` out to post without a ping.")
    if role.mentionable or can_everyone:
        return None
    return (f"I can't ping {role.mention} in {where}: the role is not mentionable and I don't have Mention "
            f"Everyone there, so nobody would be notified. Fix it with one of: Server Settings → Roles → "
            f"{role.name} → “Allow anyone to @mention this role”, or give me Mention Everyone in {where}. "
            "Or leave `role` out to post without a ping.")
