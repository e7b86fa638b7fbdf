"""The calendar file: parsed back with the icalendar library, as a calendar app would read it."""

from __future__ import annotations

import datetime as dt

import icalendar

from bot import calendar
from db.models import Franchise, HistoryEntry, Release, ReleaseValue, Title

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
FRANCHISE = Franchise(id=1, slug="john-wick", name="John Wick")


def title(name="Ballerina", slug="ballerina", runtime=None):
    return Title(id=1, slug=slug, name=name, kind="film", status="released", franchise=FRANCHISE, runtime=runtime)


def release(value, *, history=(), name="Ballerina", slug="ballerina", medium="theatrical", provider=None,
            runtime=None, rid=10):
    entries = tuple(HistoryEntry(v, at, "pack") for v, at in history)
    return Release(id=rid, title=title(name, slug, runtime), region="US", medium=medium, value=value,
                   provider=provider, history=entries)


def parse(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def test_a_date_only_release_is_an_all_day_event_and_a_timed_one_starts_at_its_instant():
    day = release(ReleaseValue(date=dt.date(2027, 6, 6)))
    timed = release(ReleaseValue(date=dt.date(2027, 3, 14), time=dt.time(19, 0), timezone="America/New_York"),
                    name="Fan Cut", slug="fan-cut", runtime=95, rid=11)
    first, later = parse(calendar.build("Fans · releases", 42, [day, timed], fallback=NOW))
    assert first["summary"] == "Fan Cut" and later["summary"] == "Ballerina"  # soonest first
    assert later.decoded("dtstart") == dt.date(2027, 6, 6) and later.decoded("dtend") == dt.date(2027, 6, 7)
    assert first.decoded("dtstart") == dt.datetime(2027, 3, 14, 23, 0, tzinfo=dt.UTC)  # 19:00 EDT
    assert first.decoded("dtend") - first.decoded("dtstart") == dt.timedelta(minutes=95)
    assert str(later["location"]) == "In theaters (US)" and str(later["uid"]) == "ballerina.us.theatrical.42@marquee"


def test_a_move_keeps_the_uid_and_raises_the_sequence():
    first = ReleaseValue(date=dt.date(2027, 6, 6))
    moved = ReleaseValue(date=dt.date(2027, 7, 4))
    before = release(first, history=[(first, NOW)])
    after = release(moved, history=[(first, NOW), (moved, NOW + dt.timedelta(days=3))], rid=99)
    [a] = parse(calendar.build("x", 42, [before], fallback=NOW))
    [b] = parse(calendar.build("x", 42, [after], fallback=NOW))
    assert a["uid"] == b["uid"]  # another release row (a server's correction) is still the same event
    assert int(a["sequence"]) == 0 and int(b["sequence"]) == 1
    assert b.decoded("last-modified") == NOW + dt.timedelta(days=3)
    assert b.decoded("dtstart") == dt.date(2027, 7, 4) and "Moved from" in str(b["description"])
    # The same data gives the same bytes (the feed's ETag holds).
    assert calendar.build("x", 42, [after], fallback=NOW) == calendar.build("x", 42, [after], fallback=NOW)


def test_undated_releases_are_left_out_and_hostile_text_stays_text():
    month = release(ReleaseValue(date=dt.date(2027, 6, 1), precision="month"))
    nasty = release(ReleaseValue(date=dt.date(2027, 1, 2), note="line one\nline; two, three"),
                    name="@everyone\x07 DROP TABLE; x,y\nBEGIN:VEVENT", slug="nasty", medium="streaming",
                    provider="Peacock\r\nEND:VCALENDAR", rid=12)
    data = calendar.build("Server\nX", 42, [month, nasty], fallback=NOW)
    [event] = parse(data)
    assert str(event["summary"]) == "@everyone DROP TABLE; x,y BEGIN:VEVENT"  # text, not a new event
    assert str(event["location"]) == "On Peacock END:VCALENDAR (US)"
    assert "line one\nline; two, three" in str(event["description"])
    lines = data.split(b"\r\n")
    assert lines.count(b"BEGIN:VEVENT") == 1 and lines.count(b"END:VCALENDAR") == 1
