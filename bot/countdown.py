"""Countdown maths and wording: pure functions, no I/O.

Timed releases: a milestone fires at the release instant minus its offset, exactly. Date-only
releases: a day milestone fires on its calendar date at the server's posting hour, in the server's
time zone (computed per day with zoneinfo, so daylight-saving changes move nothing); hour and minute
milestones count back from the start (00:00) of the release day in that zone.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from bot import timemath
from bot.delivery import late_suffix
from db.countdowns import DeliveryKey
from db.models import GuildSettings, ReleaseValue

DEFAULT_MILESTONES = "30d,14d,7d,3d,1d,0"
MAX_MILESTONES = 12
_LIMITS = {"d": 365, "h": 168, "m": 1440}
_UNIT_DELTA = {"d": dt.timedelta(days=1), "h": dt.timedelta(hours=1), "m": dt.timedelta(minutes=1)}
_TOKEN = re.compile(r"^(\d{1,4})\s*([dhm])$")


@dataclass(frozen=True, slots=True)
class Milestone:
    amount: int
    unit: str  # 'd', 'h', 'm'; amount 0 means the release itself

    @property
    def label(self) -> str:
        return "0" if self.amount == 0 else f"{self.amount}{self.unit}"

    @property
    def offset(self) -> dt.timedelta:
        return self.amount * _UNIT_DELTA[self.unit]

    @classmethod
    def parse(cls, label: str) -> Milestone:
        return parse_milestones(label)[0]


def parse_milestones(text: str | None) -> tuple[Milestone, ...]:
    """'30d, 7d,1d,0' -> milestones, furthest first. Raises ValueError with a sentence for the member."""
    text = (text or DEFAULT_MILESTONES).strip().lower()
    found: dict[dt.timedelta, Milestone] = {}
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        if raw in ("0", "0d", "0h", "0m"):
            milestone = Milestone(0, "d")
        else:
            match = _TOKEN.match(raw)
            if not match:
                raise ValueError(f"“{raw[:20]}” is not a milestone: use a number of days, hours or minutes "
                                 "like 30d, 12h or 15m, and 0 for the release itself.")
            amount, unit = int(match.group(1)), match.group(2)
            if not 1 <= amount <= _LIMITS[unit]:
                raise ValueError(f"{raw} is out of range: at most {_LIMITS[unit]}{unit}.")
            milestone = Milestone(amount, unit)
        found.setdefault(milestone.offset, milestone)
    if not found:
        raise ValueError("Give at least one milestone, like 7d,1d,0.")
    if len(found) > MAX_MILESTONES:
        raise ValueError(f"That is {len(found)} milestones; at most {MAX_MILESTONES}.")
    return tuple(sorted(found.values(), key=lambda m: m.offset, reverse=True))


def canonical(milestones: tuple[Milestone, ...]) -> str:
    return ",".join(m.label for m in milestones)


def due_at(value: ReleaseValue, milestone: Milestone, tz: dt.tzinfo, posting: dt.time) -> dt.datetime | None:
    """When this milestone of this release should be posted (UTC), or None when the date is not exact."""
    if value.date is None or value.precision != "day":
        return None
    if value.time is not None:
        instant = timemath.release_instant(value)
        assert instant is not None
        return instant - milestone.offset
    if milestone.unit == "d":
        day = value.date - dt.timedelta(days=milestone.amount)
        return _local(day, posting, tz)
    start_of_day = _local(value.date, dt.time(0), tz)
    return (start_of_day - milestone.offset).astimezone(dt.UTC)


def _local(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """A wall-clock time in tz, as UTC. zoneinfo resolves it for that very day, so DST is respected;
    an hour skipped by a spring-forward jump lands just after the jump (fold=0)."""
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def plan(value: ReleaseValue, milestones: tuple[Milestone, ...], tz: dt.tzinfo,
         posting: dt.time) -> list[tuple[Milestone, dt.datetime]]:
    """Every milestone with its due instant, in time order (empty for month/year/TBA dates)."""
    planned = [(m, due_at(value, m, tz, posting)) for m in milestones]
    return sorted(((m, d) for m, d in planned if d is not None), key=lambda pair: pair[1])


def plan_for(value: ReleaseValue, milestones_text: str,
             settings: GuildSettings) -> list[tuple[DeliveryKey, dt.datetime]]:
    """A subscription's deliveries in a server: in its time zone, at its posting hour."""
    return plan_keys(value, milestones_text, zoneinfo.ZoneInfo(settings.timezone), settings.posting_time)


def plan_keys(value: ReleaseValue, milestones_text: str, tz: dt.tzinfo,
              posting: dt.time) -> list[tuple[DeliveryKey, dt.datetime]]:
    """A subscription's deliveries for a release value: (key, due), the key naming the value planned for, so a
    moved date gets new rows and the old ones can be cancelled."""
    planned_for = value.date.isoformat() if value.date else "tba"
    if value.time:
        planned_for += f"T{value.time:%H:%M}"
    return [(DeliveryKey(m.label, planned_for), due)
            for m, due in plan(value, parse_milestones(milestones_text), tz, posting)]


# -- wording ---------------------------------------------------------------------------------------------


def _span(milestone: Milestone) -> str:
    n, unit = milestone.amount, milestone.unit
    if unit == "d" and n % 7 == 0 and n <= 28:
        weeks = n // 7
        return f"{weeks} week" + ("s" if weeks > 1 else "")
    word = {"d": "day", "h": "hour", "m": "minute"}[unit]
    return f"{n} {word}" + ("s" if n > 1 else "")


def milestone_line(title: str, milestone: Milestone, value: ReleaseValue, *, late: int = 0) -> str:
    """One line of a countdown post. `title` must already be made safe for Discord."""
    instant = timemath.release_instant(value)
    stamp = f" — <t:{int(instant.timestamp())}:{'F' if value.time else 'D'}>" if instant else ""
    if milestone.amount == 0:
        line = f"🎬 **{title}** is out today!" if value.time is None else f"🎬 **{title}** is out now!"
    elif milestone.unit == "d" and milestone.amount == 1:
        line = f"⏳ **{title}** comes out tomorrow{stamp}"
    else:
        line = f"⏳ **{_span(milestone)}** until **{title}**{stamp}"
    return line + late_suffix(int(late))


def moved_line(title: str, old: ReleaseValue, new: ReleaseValue) -> str:
    instant = timemath.release_instant(new)
    stamp = f" (<t:{int(instant.timestamp())}:R>)" if instant else ""
    return (f"📅 **{title}** has moved: {timemath.format_date(old)} → **{timemath.format_date(new)}**{stamp}. "
            "The countdown follows the new date.")
