"""Option parsing for slash commands: titles, people, regions, franchises (RoboDanny-style transformers).

Each raises a UserError with a sentence for the member; autocomplete never returns more than 25
choices, names are at most 100 characters and values are stable slugs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import TYPE_CHECKING, Any

import discord
import pycountry
from discord import app_commands

from bot.errors import NotFound, UserError
from bot.render import safe
from db import models, queries, validate

if TYPE_CHECKING:
    from bot.app import Marquee

CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
QUERY_MAX = 100  # Discord caps string options at 6000; nobody's title is longer than this


def _bot(interaction: discord.Interaction) -> Marquee:
    return interaction.client  # type: ignore[return-value]


def choice_name(name: str, extra: tuple[str, ...] = ()) -> str:
    label = validate.clean_text(name)
    suffix = f" ({', '.join(extra)})" if extra else ""
    if len(label) + len(suffix) > CHOICE_NAME_MAX:
        label = label[: CHOICE_NAME_MAX - len(suffix) - 1] + "…"
    return (label + suffix) or "?"


def _echo(value: str) -> str:
    """The member's input, shortened and made inert, for an error message."""
    return safe(value, 60) or "that"


def _query(value: str, noun: str, example: str) -> str:
    """What the member typed for a title or a name, checked before any search."""
    value = value.strip()
    if not value:
        raise UserError(f"Type a {noun}, for example `{example}`.")
    if len(value) > QUERY_MAX:
        raise UserError(f"That is {len(value):,} characters; a {noun} is at most {QUERY_MAX}.")
    return value


@functools.lru_cache(maxsize=1 << 14)
def _choice(name: str, extra: tuple[str, ...], slug: str) -> app_commands.Choice[str]:
    """A keystroke offers mostly the names the one before it did: each choice is made once (looked up in C,
    a third of the cost of making 25 of them). discord.py only reads a Choice (to_dict), so one can be shared."""
    return app_commands.Choice(name=choice_name(name, extra), value=slug)


def _choices(entries: list[models.SearchEntry]) -> list[app_commands.Choice[str]]:
    return [_choice(e.name, e.extra, e.slug) for e in entries[:CHOICES_MAX]]


class TitleTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> models.Title:
        value = _query(value, "title", "Ballerina")
        title, suggestions = await _bot(interaction).catalog.find_title(interaction.guild_id, value)
        if title is None:
            raise NotFound(f"No title matches “{_echo(value)}”.", tuple(safe(s, 100) for s in suggestions))
        return title

    async def autocomplete(self, interaction: discord.Interaction, value: str,  # type: ignore[override]
                           ) -> list[app_commands.Choice[str]]:
        bot = _bot(interaction)
        value = value.strip()[:QUERY_MAX]
        if not value:  # before anything is typed: upcoming releases first, then the latest
            return _choices(await bot.catalog.title_presets(interaction.guild_id, bot.clock.now(),
                                                            bot.guild_timezone(interaction.guild_id)))
        return _choices([h.entry for h in await bot.catalog.search_titles(interaction.guild_id, value, CHOICES_MAX)])


class PersonTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> models.Person:
        value = _query(value, "name", "Keanu Reeves")
        person, suggestions = await _bot(interaction).catalog.find_person(interaction.guild_id, value)
        if person is None:
            raise NotFound(f"Nobody in the catalog matches “{_echo(value)}”.",
                           tuple(safe(s, 100) for s in suggestions))
        return person

    async def autocomplete(self, interaction: discord.Interaction, value: str,  # type: ignore[override]
                           ) -> list[app_commands.Choice[str]]:
        bot = _bot(interaction)
        value = value.strip()[:QUERY_MAX]
        if not value:  # before anything is typed: the people with the most credits
            return _choices(await bot.catalog.people_presets(interaction.guild_id, CHOICES_MAX))
        return _choices([h.entry for h in await bot.catalog.search_people(interaction.guild_id, value, CHOICES_MAX)])


class RegionTransformer(app_commands.Transformer):
    """ISO 3166-1 alpha-2 ('us', 'GB') or a country name ('Germany')."""

    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        text = value.strip()
        if validate.is_region(text.upper()):
            return text.upper()
        try:
            country: Any = pycountry.countries.lookup(text) if 0 < len(text) <= 60 else None
        except LookupError:
            country = None
        if country is None:
            raise UserError(f"“{_echo(text)}” is not a country: use a two-letter code such as US, GB or DE.")
        return str(country.alpha_2)


class FranchiseTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> models.Franchise:
        franchises = await queries.franchises(_bot(interaction).store, interaction.guild_id)
        text = value.strip().casefold()
        for franchise in franchises:
            if text in (franchise.slug, franchise.name.casefold()):
                return franchise
        for franchise in franchises:
            if text and text in franchise.name.casefold():
                return franchise
        names = tuple(safe(f.name, 100) for f in franchises[:3])
        raise NotFound(f"No franchise matches “{_echo(value)}”.", names)

    async def autocomplete(self, interaction: discord.Interaction, value: str,  # type: ignore[override]
                           ) -> list[app_commands.Choice[str]]:
        franchises = await queries.franchises(_bot(interaction).store, interaction.guild_id)
        text = value.strip().casefold()
        return [app_commands.Choice(name=choice_name(f.name), value=f.slug) for f in franchises
                if not text or text in f.name.casefold() or f.slug.startswith(text)][:CHOICES_MAX]


TitleOption = app_commands.Transform[models.Title, TitleTransformer]
PersonOption = app_commands.Transform[models.Person, PersonTransformer]
RegionOption = app_commands.Transform[str, RegionTransformer]
FranchiseOption = app_commands.Transform[models.Franchise, FranchiseTransformer]


# -- options of the admin commands ------------------------------------------------------------------------


def checked_text(value: str | None, label: str, limit: int) -> str | None:
    """Free text from a moderator: cleaned (no control characters), and within Discord's limits."""
    if value is None:
        return None
    cleaned = validate.clean_text(value)
    if not cleaned:
        raise UserError(f"The {label} is empty; type some text or leave the option out.")
    if len(cleaned) > limit:
        raise UserError(f"The {label} is {len(cleaned):,} characters; it can be at most {limit:,}.")
    return cleaned


def checked_list(value: str | None, label: str) -> tuple[str, ...] | None:
    """A comma list (aliases): each item 1–100 characters, at most 25 items."""
    if value is None:
        return None
    items = [validate.clean_text(part) for part in value.split(",")]
    items = [item for item in items if item]
    if len(items) > 25:
        raise UserError(f"That is {len(items)} {label}; at most 25.")
    for item in items:
        if len(item) > validate.NAME_MAX:
            raise UserError(f"Each of the {label} can be at most {validate.NAME_MAX} characters.")
    return tuple(dict.fromkeys(items))


class DateTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> dt.date:
        try:
            return validate.parse_date(value)
        except ValueError:
            raise UserError(f"“{_echo(value)}” is not a date that exists: use YYYY-MM-DD, like 2025-06-06.") from None


class TimeTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> dt.time:
        try:
            return validate.parse_time(value)
        except ValueError:
            raise UserError(f"“{_echo(value)}” is not a time of day: use HH:MM (24-hour), like 19:00.") from None


class TimeZoneTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        text = value.strip()
        if validate.is_time_zone(text):
            return text
        folded = {name.casefold(): name for name in validate.time_zones()}
        if text.casefold().replace(" ", "_") in folded:
            return folded[text.casefold().replace(" ", "_")]
        raise UserError(f"“{_echo(value)}” is not a time zone: use an IANA name like Europe/London or "
                        "America/New_York (pick one from the suggestions).")

    async def autocomplete(self, interaction: discord.Interaction, value: str,  # type: ignore[override]
                           ) -> list[app_commands.Choice[str]]:
        text = value.strip().casefold().replace(" ", "_")
        names = sorted(validate.time_zones())
        if not text:
            popular = ["UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London",
                       "Europe/Paris", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo"]
            return [app_commands.Choice(name=n, value=n) for n in popular]
        starts = [n for n in names if n.casefold().startswith(text) or n.casefold().split("/")[-1].startswith(text)]
        contains = [n for n in names if text in n.casefold() and n not in starts]
        return [app_commands.Choice(name=n, value=n) for n in (starts + contains)[:CHOICES_MAX]]


class FranchiseOrNewTransformer(FranchiseTransformer):
    """An existing franchise, or the name of a new one (a server's own)."""

    async def transform(self, interaction: discord.Interaction, value: str) -> models.Franchise | str:  # type: ignore[override]
        try:
            return await super().transform(interaction, value)
        except NotFound:
            return checked_text(value, "franchise name", validate.NAME_MAX) or ""


class PersonOrNewTransformer(PersonTransformer):
    """An existing person (autocomplete), or the name of someone new to the catalog."""

    async def transform(self, interaction: discord.Interaction, value: str) -> models.Person | str:  # type: ignore[override]
        slug_or_name = value.strip()
        bot = _bot(interaction)
        person, _ = await bot.catalog.find_person(interaction.guild_id, slug_or_name)
        if person is not None and (person.slug == slug_or_name
                                   or person.name.casefold() == slug_or_name.casefold()
                                   or slug_or_name.casefold() in (a.casefold() for a in person.aliases)):
            return person
        return checked_text(value, "person's name", validate.NAME_MAX) or ""


class TMDBSourceTransformer(app_commands.Transformer):
    """A TMDB collection, film or series: a suggestion's value (`collection:726871`) or an id typed as such."""

    PATTERN = re.compile(r"^\s*(collection|movie|tv)\s*[:/ ]\s*(\d{1,10})\s*$", re.IGNORECASE)

    async def transform(self, interaction: discord.Interaction, value: str) -> Any:
        from bot.tmdb import Source

        match = self.PATTERN.match(value[:QUERY_MAX])
        if match is None:
            raise UserError("Pick one of the suggestions, or give a TMDB id like `collection:726871`, "
                            "`movie:438631` or `tv:90228`.")
        return Source(match.group(1).lower(), int(match.group(2)))

    async def autocomplete(self, interaction: discord.Interaction, value: str,  # type: ignore[override]
                           ) -> list[app_commands.Choice[str]]:
        from bot.tmdb import TMDBError

        bot = _bot(interaction)
        value = value.strip()[:QUERY_MAX]
        if bot.tmdb is None or len(value) < 2 or self.PATTERN.match(value):
            return []
        try:
            hits = await bot.tmdb.search(value, guild_id=interaction.guild_id, limit=CHOICES_MAX)
        except TMDBError:
            return []  # the command itself says what went wrong
        kinds = {"collection": "Collection", "movie": "Film", "tv": "Series"}
        return [app_commands.Choice(name=choice_name(f"{kinds[h.kind]} · {h.label}"), value=f"{h.kind}:{h.tmdb_id}")
                for h in hits[:CHOICES_MAX]]


TimeZoneOption = app_commands.Transform[str, TimeZoneTransformer]
TMDBSourceOption = app_commands.Transform[Any, TMDBSourceTransformer]
DateOption = app_commands.Transform[dt.date, DateTransformer]
TimeOption = app_commands.Transform[dt.time, TimeTransformer]
FranchiseOrNewOption = app_commands.Transform[models.Franchise | str, FranchiseOrNewTransformer]
PersonOrNewOption = app_commands.Transform[models.Person | str, PersonOrNewTransformer]
