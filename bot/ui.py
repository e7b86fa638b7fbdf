"""Buttons that turn pages. Only the member who asked can turn them; others get a short note."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot import collector


class Pages(discord.ui.View):
    def __init__(self, pages: Sequence[discord.Embed], owner_id: int, *, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages  # a render.PageList builds each embed when it is first shown
        self.owner_id = owner_id
        self.index = 0
        self.message: discord.InteractionMessage | None = None
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1
        self.counter.label = f"{self.index + 1}/{len(self.pages)}"

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        collector.answering(interaction.client)  # a page turn is an answer too
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the member who asked can turn these pages: run the command yourself.", ephemeral=True)
            return False
        return True

    async def _show(self, interaction: discord.Interaction) -> None:
        self._sync()
        await interaction.response.edit_message(embed=self.pages[self.index], view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.index = max(0, self.index - 1)
        await self._show(interaction)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def counter(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.index = min(len(self.pages) - 1, self.index + 1)
        await self._show(interaction)

    async def on_timeout(self) -> None:
        if self.message is not None:
            try:
                await self.message.edit(view=None)
            except discord.HTTPException:
                pass  # the message is gone or the token expired: nothing left to tidy


async def send_pages(interaction: discord.Interaction, pages: Sequence[discord.Embed], *,
                     ephemeral: bool = False) -> None:
    """Answer with the first page, and buttons when there is more than one."""
    if len(pages) <= 1:
        await interaction.response.send_message(embed=pages[0], ephemeral=ephemeral)
        return
    view = Pages(pages, interaction.user.id)
    response = await interaction.response.send_message(embed=pages[0], view=view, ephemeral=ephemeral)
    if isinstance(response.resource, discord.InteractionMessage):
        view.message = response.resource
