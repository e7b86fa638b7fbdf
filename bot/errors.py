"""Errors a member can be told about. The tree's error handler turns them into one ephemeral line."""

from __future__ import annotations

from discord import app_commands


class UserError(app_commands.AppCommandError):
    """Something the member can fix; `str(error)` is the sentence they see."""


class NotFound(UserError):
    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        self.suggestions = suggestions
        text = message
        if suggestions:
            text += " Did you mean " + _or_list([f"**{s}**" for s in suggestions]) + "?"
        super().__init__(text)


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
