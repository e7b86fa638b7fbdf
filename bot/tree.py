"""One error handler for the whole command tree: every failure becomes a short ephemeral answer."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot import collector
from bot.errors import UserError
from db.edits import EditError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on our side, sorry. The operators have been told; please try again later."


PERMISSION_NAMES = {"manage_guild": "Manage Server", "mention_everyone": "Mention Everyone"}


def _permissions(names: list[str]) -> str:
    return ", ".join(PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in names)


def describe(error: app_commands.AppCommandError) -> str | None:
    """The sentence a member sees for an error they can act on, or None for a bug."""
    original = getattr(error, "original", None)
    if isinstance(original, EditError):  # the store refused an edit, with a reason for the member
        return str(original)
    if isinstance(error, app_commands.TransformerError) and isinstance(error.__cause__, UserError):
        return str(error.__cause__)
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {_permissions(error.missing_permissions)} permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        return f"I need the {_permissions(error.missing_permissions)} permission here to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server, not in direct messages."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} seconds."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        return "I couldn't understand one of the options; check it and try again."
    return None


ALREADY_ACKNOWLEDGED = 40060


def answered_by_a_twin(error: BaseException | None) -> bool:
    """Another process on the same token answered first (an overlapping deploy: Discord sends every event
    to both): our answer gets 40060. Nothing is wrong and the member already has their answer."""
    while error is not None:
        if isinstance(error, discord.HTTPException) and error.code == ALREADY_ACKNOWLEDGED:
            return True
        error = getattr(error, "original", None) or error.__cause__
    return False


class TwinFilter(logging.Filter):
    """Drops discord.py's tracebacks for 40060 (autocomplete and button answers a twin process gave first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if answered_by_a_twin(exc):
            log.debug("interaction already answered by another process; ignored")
            return False
        return True


for _name in ("discord.app_commands.tree", "discord.ui.view", "discord.client"):
    logging.getLogger(_name).addFilter(TwinFilter())


class MarqueeTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        collector.answering(self.client)  # runs in the task handling the command or autocomplete
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if answered_by_a_twin(error):
            log.debug("/%s in guild %s was answered by another process first", interaction.command and
                      interaction.command.qualified_name, interaction.guild_id)
            return
        message = describe(error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if message is None:
            original = getattr(error, "original", error)
            log.error("command /%s failed in guild %s", command, interaction.guild_id, exc_info=original)
            message = INTERNAL_ERROR
        else:
            log.info("command /%s in guild %s refused: %s", command, interaction.guild_id, type(error).__name__)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not tell the member about an error in /%s: %s", command, exc)
