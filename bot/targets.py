"""Where a countdown may post: a text or announcement channel, a thread, or a forum (one post per title).

Each kind needs its own permissions (Discord: a thread ignores Send Messages and wants Send Messages in
Threads; a forum post is made with Send Messages and answered in with Send Messages in Threads), and a
thread the bot's cache does not hold (archived, or private) is fetched before it is judged.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.checks import POST_PERMISSIONS
from bot.errors import UserError

Target = discord.TextChannel | discord.Thread | discord.ForumChannel

# What each kind needs, in the words of Discord's permission names.
NEEDS: dict[str, tuple[str, ...]] = {
    "channel": POST_PERMISSIONS,
    "thread": ("view_channel", "send_messages_in_threads", "embed_links"),
    "forum": ("view_channel", "send_messages", "send_messages_in_threads", "embed_links"),
}
CHANNEL_TYPES = [discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.news_thread,
                 discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.forum]


def kind_of(channel: Any) -> str:
    if isinstance(channel, discord.Thread):
        return "thread"
    if isinstance(channel, discord.ForumChannel):
        return "forum"
    return "channel"


def _names(perms: tuple[str, ...]) -> str:
    return ", ".join(p.replace("_", " ").title() for p in perms)


def problem(channel: Target, me: discord.Member | None, *, still: bool = False) -> str | None:
    """Why the bot could not post its countdowns in `channel`, with the fix, or None when it can."""
    kind = kind_of(channel)
    needs = NEEDS[kind]
    cannot = "I still can't" if still else "I can't"
    if me is None:
        return f"{cannot} post in {channel.mention} (missing: {_names(needs)})."
    perms = channel.permissions_for(me)
    missing = tuple(p for p in needs if not getattr(perms, p))
    if missing:
        return (f"{cannot} post in {channel.mention} (missing: {_names(missing)}). Give me those permissions "
                "there, or pick another channel.")
    if isinstance(channel, discord.Thread) and channel.locked and not perms.manage_threads:
        return (f"{channel.mention} is locked, so I can't post in it. Unlock it (or give me Manage Threads), "
                "or pick another channel.")
    if isinstance(channel, discord.ForumChannel) and channel.flags.require_tag:
        return (f"{channel.mention} requires a tag on every post, and a countdown's post has none. Turn off "
                "“Require people to apply tags” in the forum's settings, or pick another channel.")
    return None


def where(channel_id: int | None, channel_type: int, post_id: int | None) -> str:
    """How an admin sees a countdown's place: '<#forum> (its post: <#post>)', or the channel."""
    if channel_type in (15, 16):
        return f"<#{channel_id}> (its post: <#{post_id}>)" if post_id else f"<#{channel_id}> (a new post)"
    return f"<#{channel_id}>"


async def resolve(client: discord.Client, guild: discord.Guild, channel_id: int) -> Target | None:
    """The channel or thread from the cache, else from Discord (archived threads are not cached)."""
    found = guild.get_channel_or_thread(channel_id)
    if found is None:
        try:
            found = await client.fetch_channel(channel_id)  # type: ignore[assignment]
        except (discord.NotFound, discord.Forbidden):
            return None
    return found if isinstance(found, Target) else None  # type: ignore[arg-type]


class TargetTransformer(app_commands.Transformer):
    """A channel option offering text and announcement channels, threads and forums."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return CHANNEL_TYPES

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Target:
        resolved = value.resolve() if hasattr(value, "resolve") else value
        if resolved is None and interaction.guild is not None:
            # A thread the cache does not hold: archived (Discord syncs only active ones) or private.
            resolved = await resolve(interaction.client, interaction.guild, value.id)
            if resolved is None:
                raise UserError(f"I can't see {value.mention}. If it is a private thread, add me to it "
                                "(mention me in it), or pick another channel.")
        if not isinstance(resolved, Target):  # type: ignore[arg-type]
            raise UserError("Pick a text or announcement channel, a thread, or a forum.")
        return resolved


TargetOption = app_commands.Transform[Target, TargetTransformer]
