"""Plain dataclasses (and one named tuple) returned by the query API. No discord, no SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

KINDS = ("film", "series", "special", "game")
STATUSES = ("announced", "filming", "post-production", "released", "rumoured")
MEDIA = ("theatrical", "streaming", "digital", "physical", "tv")
PRECISIONS = ("day", "month", "year", "unknown")
RELEASE_STATUSES = ("confirmed", "tentative")
DEPARTMENTS = (
    "directing", "writing", "production", "camera", "editing", "sound", "music", "art", "costume",
    "stunts", "other",
)
OFFER_KINDS = ("stream", "rent", "buy")


@dataclass(frozen=True, slots=True)
class Franchise:
    id: int
    slug: str
    name: str
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class Title:
    id: int
    slug: str
    name: str
    kind: str
    status: str
    franchise: Franchise
    story_order: float | None = None
    synopsis: str | None = None
    aliases: tuple[str, ...] = ()
    source: str | None = None
    guild_id: int | None = None
    runtime: int | None = None  # minutes


@dataclass(frozen=True, slots=True)
class ReleaseValue:
    """One value a release had: the current one, or an earlier one in its history."""

    date: dt.date | None
    precision: str = "day"
    status: str = "confirmed"
    time: dt.time | None = None
    timezone: str | None = None
    note: str | None = None
    source: str | None = None
    as_of: dt.date | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    value: ReleaseValue
    recorded_at: dt.datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class Release:
    id: int
    title: Title
    region: str
    medium: str
    value: ReleaseValue
    provider: str | None = None
    history: tuple[HistoryEntry, ...] = ()  # oldest first; the last one is the current value
    guild_id: int | None = None

    @property
    def earlier_values(self) -> tuple[ReleaseValue, ...]:
        """Earlier values whose date differs from the current one (the date changes)."""
        values = [h.value for h in self.history]
        out: list[ReleaseValue] = []
        for value in values[:-1] if values and values[-1] == self.value else values:
            if (value.date, value.precision, value.time) != (self.value.date, self.value.precision,
                                                              self.value.time):
                out.append(value)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    slug: str
    name: str
    bio: str | None = None
    aliases: tuple[str, ...] = ()
    source: str | None = None
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class Credit:
    id: int
    title: Title
    person: Person
    kind: str  # cast | crew
    character: str | None = None
    department: str | None = None
    job: str | None = None
    billing: int | None = None
    note: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class WatchOffer:
    id: int
    title: Title
    region: str
    provider: str
    kind: str
    as_of: dt.date
    price: str | None = None
    currency: str | None = None
    note: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    name: str
    detail: str | None = None


class SearchEntry(NamedTuple):
    """What the search index needs to know about a title or a person.

    A named tuple, not a frozen dataclass: 300,000 are made each time the indexes are built, and a frozen
    dataclass takes 2.3 µs to make (0.5 s for 200,000 people), a tuple 0.3."""

    slug: str
    name: str
    aliases: tuple[str, ...] = ()
    guild_id: int | None = None
    extra: tuple[str, ...] = ()  # e.g. a release year, shown in autocomplete
    hidden: bool = False  # a server removed this global title from its view


@dataclass(frozen=True, slots=True)
class GuildSettings:
    guild_id: int
    timezone: str = "UTC"
    region: str | None = None
    alerts_channel_id: int | None = None
    posting_hour: int = 9
    posting_minute: int = 0
    events_enabled: bool = False  # followed releases mirrored into Discord Scheduled Events

    @property
    def posting_time(self) -> dt.time:
        """When day milestones post, in the server's time zone."""
        return dt.time(self.posting_hour, self.posting_minute)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    actor_id: int
    action: str
    title_slug: str | None
    subject: str | None
    field: str | None
    old: str | None
    new: str | None
