"""/reminders (admins: countdown posts in channels) and /remindme (everyone: a DM on release day)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import countdown, delivery, render, targets, timemath
from bot.app import Marquee
from bot.checks import ping_problem, require_manage_guild
from bot.errors import UserError
from bot.transformers import TitleOption
from db import countdowns, queries
from db.models import Release, Title

MANAGE_SERVER = discord.Permissions(manage_guild=True)


class Reminders(commands.Cog):
    reminders = app_commands.Group(name="reminders", description="Countdown posts in this server's channels",
                                   default_permissions=MANAGE_SERVER, guild_only=True)
    remindme = app_commands.Group(name="remindme", description="A DM from the bot on a title's release day",
                                  guild_only=True)

    def __init__(self, bot: Marquee) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        command = interaction.command
        if command is not None and command.root_parent is self.reminders:
            require_manage_guild(interaction)
        return True

    async def _release(self, interaction: discord.Interaction, title: Title) -> Release:
        """The release a subscription follows: the next one, preferring the server's region."""
        settings = self.bot.guild_settings(interaction.guild_id)
        releases = await queries.releases_for_title(self.bot.store, title, interaction.guild_id)
        release, upcoming = timemath.next_release(releases, self.bot.clock.now(),
                                                  self.bot.guild_timezone(interaction.guild_id),
                                                  region=settings.region or "US")
        if release is None or release.value.date is None or release.value.precision != "day":
            raise UserError(f"**{render.safe(title.name)}** has no exact release date yet, so there is nothing "
                            "to count down to. An admin can set one with /catalog set-release.")
        if not upcoming:
            raise UserError(f"**{render.safe(title.name)}** is already out "
                            f"({timemath.format_date(release.value)}); no later release is known.")
        return release

    # -- /reminders -----------------------------------------------------------------------------------

    @reminders.command(name="add", description="Post countdowns for a title in a channel")
    @app_commands.describe(title="The title to count down to",
                           channel="Where to post: a channel, a thread, or a forum (one post per title)",
                           milestones="e.g. 30d,7d,1d,0 (also 12h, 15m); default 30d,14d,7d,3d,1d,0",
                           role="A role to ping with each post (nobody is pinged otherwise)")
    async def add(self, interaction: discord.Interaction, title: TitleOption, channel: targets.TargetOption,
                  milestones: str | None = None, role: discord.Role | None = None) -> None:
        assert interaction.guild is not None
        try:
            parsed = countdown.parse_milestones(milestones)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if problem := targets.problem(channel, interaction.guild.me):
            raise UserError(problem)
        if role is not None and role.is_default() and not interaction.permissions.mention_everyone:
            raise UserError("Only members who may mention @everyone can make countdowns ping @everyone.")
        if role is not None and not role.is_default() and role.managed:
            raise UserError(f"{role.mention} belongs to an integration and can't be pinged; pick another role.")
        if role is not None and (problem := ping_problem(role, channel, interaction.guild.me)):
            raise UserError(problem)
        release = await self._release(interaction, title)
        existing = [s for s in await countdowns.subscriptions(self.bot.store, interaction.guild.id)
                    if s.channel_id == channel.id and s.title_id == title.id]
        if existing:
            raise UserError(f"{channel.mention} already counts down to **{render.safe(title.name)}** "
                            f"(id {existing[0].id}); remove it first to change it.")
        sid, upcoming = await self.bot.countdowns.subscribe(
            guild_id=interaction.guild.id, title=title, release=release, milestones=countdown.canonical(parsed),
            actor=interaction.user.id, channel_id=channel.id, role_id=role.id if role else None,
            channel_type=channel.type.value)
        ping = f", pinging {role.mention}" if role else " (pinging nobody)"
        first = (f" The next post, {upcoming[0][0].label}, is <t:{int(upcoming[0][1].timestamp())}:R>."
                 if upcoming else "")
        place = (f"{channel.mention} (in a post of its own, named after the title)"
                 if targets.kind_of(channel) == "forum" else channel.mention)
        await interaction.response.send_message(
            f"Countdown **{sid}**: {place} will count down to **{render.safe(title.name)}** "
            f"({timemath.format_date(release.value)}, {release.region}) at {countdown.canonical(parsed)}{ping}."
            f"{first}", ephemeral=True)

    @reminders.command(name="list", description="This server's countdowns, including paused ones")
    async def list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        subs = await countdowns.subscriptions(self.bot.store, interaction.guild_id)
        if not subs:
            await interaction.response.send_message("No countdowns yet: add one with /reminders add.",
                                                    ephemeral=True)
            return
        lines = []
        for sub in subs:
            line = (f"**{sub.id}** · **{render.safe(sub.title_name)}** in "
                    f"{targets.where(sub.channel_id, sub.channel_type, sub.post_id)} · {sub.milestones}"
                    + (f" · pings <@&{sub.role_id}>" if sub.role_id else ""))
            if sub.paused_reason:
                line += f"\n  ⏸️ Paused: {render.safe(sub.paused_reason)}. Fix it, then /reminders resume id:{sub.id}"
            elif sub.next_due:
                key = sub.next_key
                what = "a “moved” notice" if key and key.is_move else (key.label if key else "?")
                line += f"\n  Next: {what} <t:{int(sub.next_due.timestamp())}:R>"
            else:
                line += "\n  Nothing left to post."
            lines.append(line)
        from bot.ui import send_pages

        await send_pages(interaction, render.paginate("Countdowns", lines=lines), ephemeral=True)

    async def _own(self, interaction: discord.Interaction, subscription_id: int) -> countdowns.Subscription:
        assert interaction.guild_id is not None
        sub = await countdowns.subscription(self.bot.store, interaction.guild_id, subscription_id)
        if sub is None or sub.kind != "channel":
            raise UserError(f"There is no countdown {subscription_id} in this server: see /reminders list.")
        return sub

    @reminders.command(name="remove", description="Stop a countdown")
    @app_commands.describe(id="The countdown's number, from /reminders list")
    async def remove(self, interaction: discord.Interaction, id: int) -> None:
        sub = await self._own(interaction, id)
        await self.bot.countdowns.remove(sub, interaction.user.id)
        await interaction.response.send_message(
            f"Countdown {sub.id} (**{render.safe(sub.title_name)}** in <#{sub.channel_id}>) removed.", ephemeral=True)

    @reminders.command(name="preview", description="Show a countdown's next post without sending it")
    @app_commands.describe(id="The countdown's number, from /reminders list")
    async def preview(self, interaction: discord.Interaction, id: int) -> None:
        sub = await self._own(interaction, id)
        key = sub.next_key
        if key is None or not sub.next_due:
            raise UserError(f"Countdown {sub.id} has nothing left to post.")
        release = await self.bot.reads.release_of(sub.title_slug, sub.guild_id, sub.region, sub.medium)
        if release is None:
            raise UserError(f"Countdown {sub.id} follows a release that no longer exists.")
        if key.is_move:
            text = f"A “release moved” notice for **{render.safe(sub.title_name)}**."
        else:
            text = countdown.milestone_line(render.safe(sub.title_name), countdown.Milestone.parse(key.label),
                                            release.value)
        ping = f"<@&{sub.role_id}>\n" if sub.role_id and sub.role_id != sub.guild_id else (
            "@everyone\n" if sub.role_id else "")
        await interaction.response.send_message(
            f"Countdown {sub.id} will post this in <#{sub.channel_id}> <t:{int(sub.next_due.timestamp())}:R>:\n"
            f">>> {ping}{text}", ephemeral=True)

    @reminders.command(name="history", description="What became of each of a countdown's posts, and what is to come")
    @app_commands.describe(id="The countdown's number, from /reminders list")
    async def history(self, interaction: discord.Interaction, id: int) -> None:
        sub = await self._own(interaction, id)
        records = await countdowns.deliveries_of(self.bot.store, sub.guild_id, sub.id)
        lines = [delivery.fate_line(r, guild_id=sub.guild_id, channel_id=sub.posts_in) for r in records]
        done = sum(r.state not in ("pending", "claimed") for r in records)
        from bot.ui import send_pages

        await send_pages(interaction, render.paginate(
            f"Countdown {sub.id}: {render.safe(sub.title_name, 100)}",
            description=(f"In {targets.where(sub.channel_id, sub.channel_type, sub.post_id)} · {sub.milestones}. "
                         f"{done} done, {len(records) - done} to come." if records
                         else f"In {targets.where(sub.channel_id, sub.channel_type, sub.post_id)} · nothing planned."),
            lines=lines), ephemeral=True)

    @reminders.command(name="resume", description="Restart a paused countdown (permissions are checked again)")
    @app_commands.describe(id="The countdown's number, from /reminders list")
    async def resume(self, interaction: discord.Interaction, id: int) -> None:
        sub = await self._own(interaction, id)
        if not sub.paused_reason:
            raise UserError(f"Countdown {sub.id} is not paused.")
        guild = interaction.guild
        channel = await targets.resolve(self.bot, guild, sub.channel_id or 0) if guild is not None else None
        if channel is None or guild is None:
            raise UserError("That channel no longer exists: remove this countdown and add a new one.")
        if problem := targets.problem(channel, guild.me, still=True):
            raise UserError(problem)
        role = guild.get_role(sub.role_id) if sub.role_id else None
        if sub.role_id and role is None:
            raise UserError("The role it pings was deleted: remove this countdown and add a new one.")
        if role is not None and (problem := ping_problem(role, channel, guild.me)):
            raise UserError(problem)
        await self.bot.countdowns.resume(sub)
        await interaction.response.send_message(f"Countdown {sub.id} resumed.", ephemeral=True)

    # -- /remindme --------------------------------------------------------------------------------------

    @remindme.command(name="add", description="Get a DM from the bot on a title's release day")
    @app_commands.describe(title="The title")
    async def me_add(self, interaction: discord.Interaction, title: TitleOption) -> None:
        assert interaction.guild_id is not None
        release = await self._release(interaction, title)
        mine = await countdowns.subscriptions(self.bot.store, interaction.guild_id, kind="dm",
                                              user_id=interaction.user.id)
        if any(s.title_id == title.id for s in mine):
            raise UserError(f"You already have a reminder for **{render.safe(title.name)}**.")
        if len(mine) >= 25:
            raise UserError("You have 25 reminders already; remove one first.")
        await self.bot.countdowns.subscribe(guild_id=interaction.guild_id, title=title, release=release,
                                            milestones="0", actor=interaction.user.id, user_id=interaction.user.id)
        await interaction.response.send_message(
            f"I'll DM you on release day: **{render.safe(title.name)}**, {timemath.format_date(release.value)}. "
            "Keep DMs from this server open.", ephemeral=True)

    @remindme.command(name="list", description="Your release-day reminders")
    async def me_list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        mine = await countdowns.subscriptions(self.bot.store, interaction.guild_id, kind="dm",
                                              user_id=interaction.user.id)
        if not mine:
            await interaction.response.send_message("You have no reminders: add one with /remindme add.",
                                                    ephemeral=True)
            return
        lines = [f"**{render.safe(s.title_name)}**" + (f" — <t:{int(s.next_due.timestamp())}:R>" if s.next_due
                                                       else " — done") for s in mine]
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)

    @remindme.command(name="remove", description="Cancel a release-day reminder")
    @app_commands.describe(title="The title")
    async def me_remove(self, interaction: discord.Interaction, title: TitleOption) -> None:
        assert interaction.guild_id is not None
        mine = [s for s in await countdowns.subscriptions(self.bot.store, interaction.guild_id, kind="dm",
                                                          user_id=interaction.user.id) if s.title_id == title.id]
        if not mine:
            raise UserError(f"You have no reminder for **{render.safe(title.name)}**.")
        await self.bot.countdowns.remove(mine[0], interaction.user.id)
        await interaction.response.send_message(f"Reminder for **{render.safe(title.name)}** removed.",
                                                ephemeral=True)

    # -- the server changed under us --------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        subs = await countdowns.subscriptions_in_channel(self.bot.store, channel.id)
        await self.bot.countdowns.pause(subs, "the channel was deleted")

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A thread counted down in, or a forum countdown's own post, was deleted."""
        subs = await countdowns.subscriptions_in_channel(self.bot.store, payload.thread_id)
        await self.bot.countdowns.pause(subs, "the thread was deleted")
        await self.bot.countdowns.post_deleted(payload.thread_id)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        subs = await countdowns.subscriptions_with_role(self.bot.store, role.id)
        await self.bot.countdowns.pause(subs, f"the role @{role.name} it pings was deleted")

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """GUILD_DELETE without `unavailable`: the bot was removed (an outage is on_guild_unavailable)."""
        subs = await countdowns.subscriptions_in_guild(self.bot.store, guild.id)
        await self.bot.countdowns.pause(subs, "the bot was removed from the server")

    @commands.Cog.listener()
    async def on_guild_unavailable(self, guild: discord.Guild) -> None:
        """A Discord outage: the server's channels are unknown, not gone. Its posts wait for it."""
        self.bot.scheduler.guild_unavailable(guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.bot.scheduler.guild_available(guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.bot.scheduler.guild_available(guild.id)


async def setup(bot: Marquee) -> None:
    await bot.add_cog(Reminders(bot))
