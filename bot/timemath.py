"""Release dates and "days until": calendar arithmetic in a declared time zone. Pure functions.

A release is a calendar date in a region (US theatrical 2025-06-06), sometimes with a time of day in
an IANA zone. "Days until" is date subtraction in the server's time zone, never seconds / 86400.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from db.models import Release, ReleaseValue

UTC = dt.UTC
# A date-only release is shown with Discord's <t:...:D> at noon UTC on that date, which renders as
# the same calendar date for every reader between UTC-12 and UTC+11.
DATE_ANCHOR = dt.time(12, 0, tzinfo=UTC)


def zone(name: str | None) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(name) if name else UTC


def release_instant(value: ReleaseValue) -> dt.datetime | None:
    """The instant the release happens (timed), or the display anchor of its date, or None (month/year/TBA)."""
    if value.date is None or value.precision != "day":
        return None
    if value.time is not None:
        return dt.datetime.combine(value.date, value.time, tzinfo=zone(value.timezone)).astimezone(UTC)
    return dt.datetime.combine(value.date, DATE_ANCHOR)


def local_date(value: ReleaseValue, tz: dt.tzinfo) -> dt.date | None:
    """The calendar date of the release as seen in the time zone `tz` (timed releases may shift a day)."""
    if value.date is None or value.precision != "day":
        return None
    if value.time is not None:
        instant = release_instant(value)
        assert instant is not None
        return instant.astimezone(tz).date()
    return value.date


def days_until(value: ReleaseValue, now: dt.datetime, tz: dt.tzinfo) -> int | None:
    """Whole calendar days from today (in tz) to the release date (in tz); negative when past."""
    target = local_date(value, tz)
    if target is None:
        return None
    return (target - now.astimezone(tz).date()).days


def describe_days(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if days > 1:
        return f"in {days:,} days"
    return f"{-days:,} days ago"


def is_upcoming(value: ReleaseValue, now: dt.datetime, tz: dt.tzinfo) -> bool:
    """Dated today or later (in tz), or a month/year in the future, or TBA."""
    if value.date is None:
        return True
    today = now.astimezone(tz).date()
    if value.precision == "day":
        instant = release_instant(value)
        if value.time is not None and instant is not None:
            return instant >= now
        return value.date >= today
    if value.precision == "month":
        return (value.date.year, value.date.month) >= (today.year, today.month)
    return value.date.year >= today.year


def sort_key(value: ReleaseValue) -> tuple[int, dt.date, dt.time]:
    """Soonest first; month- and year-precision dates sort at the end of their period; TBA last."""
    if value.date is None:
        return (1, dt.date.max, dt.time.max)
    if value.precision == "month":
        nxt = value.date.replace(day=28) + dt.timedelta(days=4)
        return (0, nxt - dt.timedelta(days=nxt.day), dt.time.max)
    if value.precision == "year":
        return (0, dt.date(value.date.year, 12, 31), dt.time.max)
    return (0, value.date, value.time or dt.time.min)


def next_release(releases: Sequence[Release], now: dt.datetime, tz: dt.tzinfo,
                 region: str | None = None) -> tuple[Release | None, bool]:
    """The soonest upcoming release (preferring the region), else the first one. (release, upcoming?)"""
    if not releases:
        return None, False
    ordered = sorted(releases, key=lambda r: (region is not None and r.region != region, sort_key(r.value)))
    for release in ordered:
        if is_upcoming(release.value, now, tz) and release.value.date is not None:
            return release, True
    dated = [r for r in ordered if r.value.date is not None]
    if dated:
        return min(dated, key=lambda r: sort_key(r.value)), False
    return ordered[0], True


def format_date(value: ReleaseValue) -> str:
    """Plain text for a date of any precision: 'June 6, 2025', 'June 2025', '2025', 'TBA'."""
    if value.date is None or value.precision == "unknown":
        return "TBA"
    if value.precision == "year":
        return str(value.date.year)
    if value.precision == "month":
        return f"{value.date:%B} {value.date.year}"
    return f"{value.date:%B} {value.date.day}, {value.date.year}"
