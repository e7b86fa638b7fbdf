"""Calendar feeds: the releases a server follows as an iCalendar (RFC 5545) file, from plain data (no I/O).

Calendar apps key an event by its UID and take a higher SEQUENCE as "this event changed": the UID names the
server and what the countdown follows (title, region, medium), so it stays the same when the release row
behind it changes (a server's correction of a global date), and the SEQUENCE is the number of times the
date moved. A date-only release is an all-day event on its date (the same date in every time zone); a timed
release starts at its exact instant. DTSTAMP is the last change, not the moment of the request, so the same
data gives the same bytes (and the web feed's ETag holds until something changes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import icalendar

from bot import timemath
from db import validate
from db.models import Release

PRODID = "-//Marquee//Release calendar//EN"
TIMED_LENGTH = dt.timedelta(hours=2)  # a timed release without a runtime
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MEDIUM_WORDS = {"theatrical": "in theaters", "streaming": "streaming", "digital": "digital", "physical": "on disc",
                "tv": "on TV"}


def uid(guild_id: int, release: Release) -> str:
    return f"{release.title.slug}.{release.region.lower()}.{release.medium}.{guild_id}@marquee"


def where(release: Release) -> str:
    """"In theaters (US)", "On Peacock (US)": the event's location, in Discord's Events tab too."""
    if release.provider:
        return f"On {clean(release.provider, 80)} ({release.region})"
    words = MEDIUM_WORDS.get(release.medium, release.medium)
    return f"{words[0].upper()}{words[1:]} ({release.region})"


def clean(text: str | None, limit: int, *, lines: bool = False) -> str:
    """Text from the store (a server's own titles are members' text): no control characters, one line unless
    `lines`, bounded. The iCalendar library escapes what the format needs (commas, semicolons, new lines)."""
    text = _CONTROL.sub("", (text or "").replace("\r", ""))
    if not lines:
        text = " ".join(text.split())
    return text.strip()[:limit]


def describe(release: Release) -> str:
    status = {"confirmed": "Confirmed", "tentative": "Tentative", "tba": "To be announced"}.get(
        release.value.status, release.value.status)
    parts = [f"{validate.region_name(release.region)} · {release.medium} · {status}"]
    if release.value.note:
        parts.append(clean(release.value.note, 300, lines=True))
    if release.earlier_values:
        earlier = ", ".join(timemath.format_date(v) for v in release.earlier_values[-3:])
        parts.append(f"Moved from {earlier}.")
    return "\n".join(parts)


def modified(release: Release, fallback: dt.datetime) -> dt.datetime:
    stamps = [h.recorded_at for h in release.history]
    return (max(stamps) if stamps else fallback).astimezone(dt.UTC).replace(microsecond=0)


def event(guild_id: int, release: Release, fallback: dt.datetime) -> icalendar.Event | None:
    """One release as an event, or None when it has no exact date (a month, a year, TBA)."""
    value = release.value
    if value.date is None or value.precision != "day":
        return None
    item = icalendar.Event()
    item.add("uid", uid(guild_id, release))
    item.add("summary", clean(release.title.name, 200))
    item.add("description", describe(release))
    item.add("location", where(release))
    changed = modified(release, fallback)
    item.add("dtstamp", changed)
    item.add("last-modified", changed)
    item.add("sequence", len(release.earlier_values))
    item.add("status", "TENTATIVE" if value.status == "tentative" else "CONFIRMED")
    item.add("transp", "TRANSPARENT")  # a release does not make anyone busy
    if value.time is not None:
        start = timemath.release_instant(value)
        assert start is not None
        length = dt.timedelta(minutes=release.title.runtime) if release.title.runtime else TIMED_LENGTH
        item.add("dtstart", start.astimezone(dt.UTC))
        item.add("dtend", start.astimezone(dt.UTC) + length)
    else:
        item.add("dtstart", value.date)
        item.add("dtend", value.date + dt.timedelta(days=1))
    return item


def build(name: str, guild_id: int, releases: Sequence[Release], *, fallback: dt.datetime) -> bytes:
    """The calendar of `releases` (each once, soonest first). `fallback`: the DTSTAMP of a release without
    history (never the time of the request: the same data gives the same bytes)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", clean(name, 100))
    seen: set[str] = set()
    for release in sorted(releases, key=lambda r: (r.value.date or dt.date.max, r.title.name)):
        item = event(guild_id, release, fallback)
        if item is None or item["uid"] in seen:
            continue
        seen.add(str(item["uid"]))
        cal.add_component(item)
    return cal.to_ical()
