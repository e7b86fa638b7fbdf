"""Admin commands: /settings and /catalog. Manage Server by default, and checked again on every run.

Thin: options are parsed by transformers, edits go through db.edits (one transaction each, with the
audit row), answers are short ephemeral confirmations.
"""

from __future__ import annotations

import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import events, render
from bot.app import Marquee
from bot.checks import missing_post_permissions, require_manage_guild
from bot.errors import UserError
from bot.transformers import (
    DateOption,
    FranchiseOrNewOption,
    PersonOption,
    PersonOrNewOption,
    RegionOption,
    TimeOption,
    TimeZoneOption,
    TitleOption,
    TitleTransformer,
    TMDBSourceOption,
    checked_list,
    checked_text,
)
from db import countdowns, edits, packs, queries, validate
from db.models import Person

log = logging.getLogger(__name__)

MANAGE_SERVER = discord.Permissions(manage_guild=True)
IMPORT_MAX_BYTES = packs.MAX_PACK_BYTES
PRICE_MAX = 100_000


class HistoryTitle(TitleTransformer):
    """A title's slug: a current title, or the slug of one that was removed (it has a history)."""

    async def transform(self, interaction: discord.Interaction, value: str) -> str:  # type: ignore[override]
        try:
            return (await super().transform(interaction, value)).slug
        except UserError:
            slug = value.strip()
            if validate.SLUG.match(slug):
                return slug
            raise


class Admin(commands.Cog):
    settings = app_commands.Group(name="settings", description="This server's time zone, region and alerts channel",
                                  default_permissions=MANAGE_SERVER, guild_only=True)
    catalog = app_commands.Group(name="catalog", description="Correct and extend the catalog for this server",
                                 default_permissions=MANAGE_SERVER, guild_only=True)

    def __init__(self, bot: Marquee) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        require_manage_guild(interaction)
        return True

    def editor(self, interaction: discord.Interaction) -> edits.Editor:
        assert interaction.guild_id is not None
        return edits.Editor(self.bot.store, interaction.guild_id, interaction.user.id, self.bot.clock.now())

    async def done(self, interaction: discord.Interaction, text: str, **kwargs: object) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, **kwargs)  # type: ignore[arg-type]
        else:
            await interaction.response.send_message(text, ephemeral=True, **kwargs)  # type: ignore[arg-type]

    # -- /settings ------------------------------------------------------------------------------------

    @settings.command(name="show", description="This server's settings")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        current = self.bot.guild_settings(interaction.guild_id)
        alerts = f"<#{current.alerts_channel_id}>" if current.alerts_channel_id else "not set"
        region = f"{validate.region_name(current.region)} ({current.region})" if current.region else "not set"
        await self.done(interaction, "\n".join([
            f"**Time zone:** {current.timezone} (days until a release are counted here)",
            f"**Default region:** {region}",
            f"**Alerts channel:** {alerts}",
            f"**Posting hour:** {current.posting_time:%H:%M} (day milestones post then, in the server's time zone)",
            f"**Events:** {'on: followed releases are in the Events tab' if current.events_enabled else 'off'}",
        ]))

    async def _save(self, interaction: discord.Interaction, **changes: object) -> None:
        saved = await self.editor(interaction).set_settings(**changes)
        self.bot.remember_settings(saved)
        if {"timezone", "posting_hour", "posting_minute"} & set(changes):
            # posting hours are wall-clock times in the server's zone: plan every countdown again
            await self.bot.countdowns.timezone_changed(saved.guild_id)

    @settings.command(name="timezone", description="The server's time zone, e.g. Europe/London")
    @app_commands.describe(timezone="An IANA time zone name (pick from the suggestions)")
    async def settings_timezone(self, interaction: discord.Interaction, timezone: TimeZoneOption) -> None:
        await self._save(interaction, timezone=timezone)
        await self.done(interaction, f"Time zone set to **{timezone}**: days until a release are now counted there.")

    @settings.command(name="posting-hour", description="When day milestones post, e.g. 09:00 (the server's time zone)")
    @app_commands.describe(hour="A time of day, HH:MM (24-hour), like 09:00 or 18:30")
    async def settings_posting_hour(self, interaction: discord.Interaction, hour: TimeOption) -> None:
        await self._save(interaction, posting_hour=hour.hour, posting_minute=hour.minute)
        zone = self.bot.guild_settings(interaction.guild_id).timezone
        await self.done(interaction, f"Day milestones (like “1 day to go”) now post at **{hour:%H:%M}** ({zone}); "
                                     "every countdown of this server is planned again.")

    @settings.command(name="events", description="Mirror the releases this server counts down to in its Events tab")
    @app_commands.describe(enabled="On: one event per followed release, moved with its date; off: they are removed")
    async def settings_events(self, interaction: discord.Interaction, enabled: bool) -> None:
        guild = interaction.guild
        assert guild is not None
        if enabled and (problem := events.missing_permission(guild)):
            raise UserError(problem)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._save(interaction, events_enabled=enabled)
        try:
            created, edited, deleted = await self.bot.events.sync(guild.id, enabled=enabled)
        except discord.Forbidden:
            await self._save(interaction, events_enabled=False)
            raise UserError("Discord refused: I need the Manage Events permission. Events stay off.") from None
        if enabled:
            await self.done(interaction, f"Events on: the releases this server counts down to are in the Events tab "
                                         f"({created} added, {edited} updated). They move with their dates.")
        else:
            await self.done(interaction, f"Events off: {deleted} of my events removed from the Events tab.")

    @settings.command(name="calendar-reset", description="A new calendar feed link; the old one stops working")
    async def settings_calendar_reset(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        feed = self.bot.feed
        if not feed.enabled:
            raise UserError("This bot serves no calendar feed (its operator has not set MARQUEE_WEB_PORT), so there "
                            "is no link to reset. /calendar still gives the file.")
        link = await feed.link(interaction.guild_id, actor_id=interaction.user.id, rotate=True)
        await self.done(interaction, f"The old calendar link no longer works. The new one: <{link}>")

    @settings.command(name="region", description="The default country for release dates, e.g. US or GB")
    @app_commands.describe(region="A two-letter country code (ISO 3166-1), e.g. US, GB, DE")
    async def settings_region(self, interaction: discord.Interaction, region: RegionOption) -> None:
        await self._save(interaction, region=region)
        await self.done(interaction, f"Default region set to **{validate.region_name(region)} ({region})**.")

    @settings.command(name="alerts-channel", description="Where the bot reports problems (it must be able to post)")
    @app_commands.describe(channel="A text channel the bot can post in")
    async def settings_alerts(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        missing = missing_post_permissions(channel, interaction.guild.me if interaction.guild else None)
        if missing:
            raise UserError(f"I can't post in {channel.mention} (missing: {missing}). Give me those permissions "
                            "there, or pick another channel.")
        await self._save(interaction, alerts_channel_id=channel.id)
        await self.done(interaction, f"Problems will be reported in {channel.mention}.")

    # -- /catalog: titles -----------------------------------------------------------------------------

    @catalog.command(name="add-title", description="Add a title of this server's own")
    @app_commands.describe(title="The new title's name", kind="Film, series, special or game",
                           franchise="An existing franchise, or a new name", synopsis="A short synopsis",
                           aliases="Other names fans use, separated by commas",
                           story_position="Its place in the in-universe order (a number)")
    @app_commands.rename(story_position="story-position")
    async def add_title(self, interaction: discord.Interaction, title: str,
                        kind: Literal["film", "series", "special", "game"] = "film",
                        franchise: FranchiseOrNewOption | None = None, synopsis: str | None = None,
                        aliases: str | None = None, story_position: float | None = None) -> None:
        name = checked_text(title, "title", validate.NAME_MAX)
        assert name is not None
        found, _ = await self.bot.catalog.find_title(interaction.guild_id, name)
        if found is not None and found.name.casefold() == name.casefold():
            raise UserError(f"**{render.safe(found.name)}** is already in the catalog: use /catalog edit-title.")
        slug = await self.editor(interaction).add_title(
            name=name, kind=kind, franchise=franchise or None, synopsis=checked_text(synopsis, "synopsis", 1000),
            aliases=checked_list(aliases, "aliases") or (), story_order=story_position)
        await self.done(interaction, f"Added **{render.safe(name)}** (`{slug}`). Give it a date with "
                                     f"/catalog set-release title:{slug}.")

    @catalog.command(name="edit-title", description="Correct a title (global titles change for this server only)")
    @app_commands.describe(title="The title to change", name="A new name", kind="Film, series, special or game",
                           status="Where it stands", franchise="An existing franchise, or a new name",
                           synopsis="A short synopsis", aliases="This server's extra names for it, comma-separated",
                           story_position="Its place in the in-universe order (a number)")
    @app_commands.rename(story_position="story-position")
    async def edit_title(self, interaction: discord.Interaction, title: TitleOption,
                         kind: Literal["film", "series", "special", "game"] | None = None,
                         franchise: FranchiseOrNewOption | None = None, synopsis: str | None = None,
                         aliases: str | None = None, story_position: float | None = None, name: str | None = None,
                         status: Literal["announced", "filming", "post-production", "released", "rumoured"]
                         | None = None) -> None:
        changed = await self.editor(interaction).edit_title(
            title, name=checked_text(name, "name", validate.NAME_MAX), kind=kind, status=status,
            franchise=franchise or None, synopsis=checked_text(synopsis, "synopsis", 1000),
            aliases=checked_list(aliases, "aliases"), story_order=story_position)
        if not changed:
            raise UserError("Nothing to change: give at least one new value.")
        await self.done(interaction, f"Updated {', '.join(changed)} of **{render.safe(title.name)}**"
                                     + ("" if title.guild_id else " for this server") + ".")

    @catalog.command(name="remove-title", description="Remove a title (a global one is hidden in this server)")
    @app_commands.describe(title="The title to remove")
    async def remove_title(self, interaction: discord.Interaction, title: TitleOption) -> None:
        outcome = await self.editor(interaction).remove_title(title)
        assert interaction.guild_id is not None
        self.bot.events.soon(interaction.guild_id)  # its countdowns' events go with it
        text = "Removed" if outcome == "deleted" else "Hid (in this server only)"
        await self.done(interaction, f"{text} **{render.safe(title.name)}**. Its history stays in "
                                     f"/catalog history title:{title.slug}.")

    # -- /catalog: releases, credits, offers ----------------------------------------------------------

    @catalog.command(name="set-release", description="Set or move a release date")
    @app_commands.describe(title="The title", date="YYYY-MM-DD", time="HH:MM (24-hour), for a timed release",
                           timezone="The time zone of that time (default: the server's)",
                           region="Country code (default: the server's region, else US)",
                           medium="Where it is released", status="Confirmed or tentative", note="A short note")
    async def set_release(self, interaction: discord.Interaction, title: TitleOption, date: DateOption,
                          time: TimeOption | None = None, timezone: TimeZoneOption | None = None,
                          region: RegionOption | None = None,
                          medium: Literal["theatrical", "streaming", "digital", "physical", "tv"] = "theatrical",
                          status: Literal["confirmed", "tentative"] = "confirmed", note: str | None = None) -> None:
        settings = self.bot.guild_settings(interaction.guild_id)
        if timezone and time is None:
            raise UserError("A time zone needs a time: add time:HH:MM, or leave the time zone out.")
        zone = (timezone or settings.timezone) if time is not None else None
        region = region or settings.region or "US"
        change = await self.editor(interaction).set_release(
            title, region=region, medium=medium, date=date, time=time, timezone=zone, status=status,
            note=checked_text(note, "note", validate.NOTE_MAX))
        # Countdowns of this release now follow the server's row; a move is handled as an event.
        await self.bot.countdowns.release_changed([
            sub for sub in await countdowns.subscriptions_for(self.bot.store, title.id, interaction.guild_id)
            if (sub.region, sub.medium) == (region, medium)])
        now, tz = self.bot.clock.now(), self.bot.guild_timezone(interaction.guild_id)
        when = render.when(change.new, now, tz)
        where = f"{validate.region_name(region)}, {medium}"
        if change.moved and change.old is not None:
            from bot.timemath import format_date

            text = (f"Moved **{render.safe(title.name)}** ({where}) from {format_date(change.old)} to {when}. "
                    "Countdowns follow the new date.")
        else:
            text = f"Set **{render.safe(title.name)}** ({where}) to {when}."
        await self.done(interaction, text)

    @catalog.command(name="add-credit", description="Credit someone on a title (a new person is created if needed)")
    @app_commands.describe(title="The title", person="Who (pick a suggestion, or type a new name)",
                           department="Cast (a role) or crew (a job)", role="The character, or the job (e.g. Director)")
    async def add_credit(self, interaction: discord.Interaction, title: TitleOption, person: PersonOrNewOption,
                         department: Literal["cast", "crew"], role: str | None = None) -> None:
        role = checked_text(role, "role", validate.NAME_MAX)
        if department == "crew" and not role:
            raise UserError("Crew credits need a job in role:, for example Director or Writer.")
        added = await self.editor(interaction).add_credit(title, person, kind=department, role=role)
        name = added.name if isinstance(added, Person) else added
        new = "" if isinstance(added, Person) else " (new to the catalog)"
        await self.done(interaction, f"Credited **{render.safe(name)}**{new} on **{render.safe(title.name)}**"
                                     + (f" as {render.safe(role)}." if role else "."))

    @catalog.command(name="remove-credit", description="Remove a credit (a global one is hidden in this server)")
    @app_commands.describe(title="The title", person="Who", department="Cast or crew",
                           role="Only the credit with this character or job")
    async def remove_credit(self, interaction: discord.Interaction, title: TitleOption, person: PersonOption,
                            department: Literal["cast", "crew"], role: str | None = None) -> None:
        count = await self.editor(interaction).remove_credit(
            title, person, kind=department, role=checked_text(role, "role", validate.NAME_MAX))
        await self.done(interaction, f"Removed {count} {department} credit{'s' if count > 1 else ''} of "
                                     f"**{render.safe(person.name)}** from **{render.safe(title.name)}**.")

    @catalog.command(name="set-watch", description="Record where to stream, rent or buy a title (as of today)")
    @app_commands.describe(title="The title", provider="The service or store, e.g. Peacock",
                           kind="Stream, rent or buy", price="e.g. 3.99 (in the region's currency) or 3.99 EUR",
                           region="Country code (default: the server's region, else US)")
    async def set_watch(self, interaction: discord.Interaction, title: TitleOption, provider: str,
                        kind: Literal["stream", "rent", "buy"], price: str | None = None,
                        region: RegionOption | None = None) -> None:
        provider_name = checked_text(provider, "provider", validate.NAME_MAX)
        assert provider_name is not None
        region = region or self.bot.guild_settings(interaction.guild_id).region or "US"
        amount, currency = parse_price(price, region) if price else (None, None)
        await self.editor(interaction).set_watch(title, provider=provider_name, kind=kind, region=region,
                                                 price=amount, currency=currency)
        cost = f" for {amount} {currency}" if amount else ""
        await self.done(interaction, f"**{render.safe(title.name)}**: {kind} on {render.safe(provider_name)}{cost} "
                                     f"in {validate.region_name(region)}, as of today.")

    # -- /catalog: packs and history ------------------------------------------------------------------

    @catalog.command(name="import", description="Load a data pack (TOML or JSON, at most 1 MB) into this server")
    @app_commands.describe(file="A .toml or .json data pack, e.g. one made with /catalog export")
    async def import_pack(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        if file.size > IMPORT_MAX_BYTES:
            raise UserError(f"That file is {file.size:,} bytes; packs can be at most {IMPORT_MAX_BYTES:,}.")
        if not file.filename.lower().endswith((".toml", ".json")):
            raise UserError("Attach a .toml or .json data pack (see /catalog export for the format).")
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        store = self.bot.store
        shared_franchises = frozenset(f.slug for f in await queries.franchises(store, None))
        shared_people = frozenset(e.slug for e in await queries.person_search_entries(store, None))
        try:
            pack = packs.read_pack_bytes(data, file.filename, shared_franchises=shared_franchises,
                                         shared_people=shared_people)
        except packs.PackError as exc:
            shown = "\n".join(f"• `{render.safe(str(p), 180)}`" for p in exc.problems[:8])
            more = f"\n…and {len(exc.problems) - 8} more." if len(exc.problems) > 8 else ""
            raise UserError(f"Nothing was imported: the pack has problems.\n{shown}{more}") from None
        report = await self.editor(interaction).import_pack(pack)
        self.bot.countdowns.dates_changed()  # moved dates are picked up by the countdown dispatcher
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(report.counts.items())) or "no changes"
        moved = f" {len(report.moved)} release date(s) moved." if report.moved else ""
        await self.done(interaction, f"Imported **{render.safe(pack['pack']['name'])}**: {counts}.{moved}")

    @catalog.command(name="import-tmdb", description="Bring in a franchise from TMDB as this server's own, kept fresh")
    @app_commands.describe(query="A collection, film or series (pick a suggestion), or an id like collection:726871")
    async def import_tmdb(self, interaction: discord.Interaction, query: TMDBSourceOption) -> None:
        from bot.tmdb import ATTRIBUTION, TMDBAuthError, TMDBError

        if self.bot.tmdb is None:
            raise UserError("TMDB is not set up on this bot: its operator needs a TMDB API Read Access Token "
                            "(MARQUEE_TMDB_TOKEN). Until then, /catalog import loads a data pack.")
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.bot.tmdb.import_source(query, guild_id=interaction.guild_id,
                                                       actor=f"user:{interaction.user.id}")
        except TMDBAuthError:
            log.error("TMDB refused MARQUEE_TMDB_TOKEN (a /catalog import-tmdb in guild %s)", interaction.guild_id)
            raise UserError("TMDB refused this bot's token; nothing was imported. The operator has been told "
                            "(in the bot's log).") from None
        except TMDBError as exc:
            raise UserError(f"Nothing was imported: {exc}") from None
        self.bot.countdowns.dates_changed()
        moved = f" {len(result.moved)} release date(s) moved." if result.moved else ""
        await self.done(interaction, f"Imported **{render.safe(result.name)}** from TMDB into this server: "
                        f"{result.titles} title(s).{moved} It stays fresh from TMDB; your corrections with "
                        f"/catalog win over it.\n-# {ATTRIBUTION}")

    @catalog.command(name="export", description="This server's own titles as a data pack file")
    async def export_pack(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        name = interaction.guild.name if interaction.guild else "Server"
        pack = await packs.export_server(self.bot.store, interaction.guild_id, f"{name} catalog")
        data = packs.dumps_toml(pack).encode()
        file = discord.File(io.BytesIO(data), filename=f"{pack['pack']['slug']}.toml")
        await self.done(interaction, f"This server's own catalog: {len(pack['titles'])} titles, "
                                     f"{len(pack['people'])} people. Edit it and load it back with /catalog import.",
                        file=file)

    @catalog.command(name="history", description="Who changed what about a title, and when")
    @app_commands.describe(title="The title (removed titles too, by their slug)")
    async def history(self, interaction: discord.Interaction,
                      title: app_commands.Transform[str, HistoryTitle]) -> None:
        assert interaction.guild_id is not None
        entries = await queries.audit_for_title(self.bot.store, interaction.guild_id, title)
        if not entries:
            raise UserError(f"No changes to `{render.safe(title, 64)}` have been made in this server.")
        lines = []
        for entry in entries:
            what = entry.action + (f" {entry.field}" if entry.field else "")
            subject = f" ({render.safe(entry.subject, 100)})" if entry.subject else ""
            change = f"{render.safe(entry.old, 200) or '—'} → {render.safe(entry.new, 200) or '—'}"
            lines.append(f"<t:{int(entry.at.timestamp())}:f> <@{entry.actor_id}> **{what}**{subject}: {change}")
        pages = render.paginate(f"History · {title}", lines=lines, footer=f"{len(entries)} changes, newest first")
        from bot.ui import send_pages

        await send_pages(interaction, pages, ephemeral=True)


def parse_price(text: str, region: str) -> tuple[str, str]:
    """'3.99', '3.99 EUR', 'EUR 3.99', '$3.99' -> ('3.99', 'USD'); the region's currency by default."""
    from decimal import Decimal, InvalidOperation

    from babel.numbers import get_territory_currencies

    symbols = {"$": None, "€": "EUR", "£": "GBP", "¥": "JPY"}
    raw = text.strip().upper()
    currency = None
    for symbol, code in symbols.items():
        if raw.startswith(symbol):
            raw, currency = raw[1:], code
    parts = raw.replace(",", ".").split()
    codes = [p for p in parts if p.isalpha()]
    numbers = [p for p in parts if not p.isalpha()]
    if len(codes) > 1 or len(numbers) != 1:
        raise UserError(f"“{render.safe(text, 40)}” is not a price: write it like 3.99 or 3.99 EUR.")
    if codes:
        currency = codes[0]
        if not validate.is_currency(currency):
            raise UserError(f"{render.safe(currency, 10)} is not a currency code: use one like USD, EUR or GBP.")
    try:
        amount = Decimal(numbers[0])
    except InvalidOperation:
        raise UserError(f"“{render.safe(text, 40)}” is not a price: write it like 3.99 or 3.99 EUR.") from None
    if not amount.is_finite() or amount < 0 or amount > PRICE_MAX:
        raise UserError(f"A price must be between 0 and {PRICE_MAX:,}.")
    if currency is None:
        local = get_territory_currencies(region)
        currency = local[0] if local else "USD"
    return f"{amount:.2f}", currency


async def setup(bot: Marquee) -> None:
    await bot.add_cog(Admin(bot))

