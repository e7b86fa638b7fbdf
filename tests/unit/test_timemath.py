import datetime as dt
from zoneinfo import ZoneInfo

from bot import timemath
from db.models import ReleaseValue

UTC = dt.UTC


def day(y, m, d, **kw):
    return ReleaseValue(date=dt.date(y, m, d), **kw)


def test_days_until_counts_calendar_days_in_the_zone():
    value = day(2025, 6, 6)
    # 23:30 UTC on June 4 is already June 5 in Tokyo: one day to go there, two in UTC.
    now = dt.datetime(2025, 6, 4, 23, 30, tzinfo=UTC)
    assert timemath.days_until(value, now, UTC) == 2
    assert timemath.days_until(value, now, ZoneInfo("Asia/Tokyo")) == 1
    assert timemath.days_until(value, now, ZoneInfo("America/Los_Angeles")) == 2


def test_days_until_is_not_seconds_over_86400_across_dst():
    # New York springs forward on 2025-03-09: that day has 23 hours, and the count is still 1.
    ny = ZoneInfo("America/New_York")
    now = dt.datetime(2025, 3, 8, 23, 59, tzinfo=ny)
    assert timemath.days_until(day(2025, 3, 9), now, ny) == 1
    assert timemath.days_until(day(2025, 3, 10), now, ny) == 2


def test_timed_release_is_exact_and_shifts_the_local_date():
    value = day(2025, 6, 6, time=dt.time(19, 0), timezone="America/New_York")
    assert timemath.release_instant(value) == dt.datetime(2025, 6, 6, 23, 0, tzinfo=UTC)
    assert timemath.local_date(value, ZoneInfo("Europe/Berlin")) == dt.date(2025, 6, 7)
    assert timemath.local_date(value, ZoneInfo("America/New_York")) == dt.date(2025, 6, 6)


def test_date_only_release_anchors_at_noon_utc():
    assert timemath.release_instant(day(2025, 6, 6)) == dt.datetime(2025, 6, 6, 12, 0, tzinfo=UTC)


def test_imprecise_dates_have_no_instant_and_read_naturally():
    month = ReleaseValue(date=dt.date(2027, 5, 1), precision="month")
    year = ReleaseValue(date=dt.date(2027, 1, 1), precision="year")
    tba = ReleaseValue(date=None, precision="unknown")
    assert timemath.release_instant(month) is None
    assert timemath.format_date(month) == "May 2027"
    assert timemath.format_date(year) == "2027"
    assert timemath.format_date(tba) == "TBA"
    assert timemath.format_date(day(2025, 6, 6)) == "June 6, 2025"
    assert timemath.sort_key(day(2027, 5, 31)) < timemath.sort_key(month) < timemath.sort_key(year)
    assert timemath.sort_key(year) < timemath.sort_key(tba)


def test_is_upcoming():
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert timemath.is_upcoming(day(2026, 11, 24), now, UTC)
    assert not timemath.is_upcoming(day(2026, 11, 23), now, UTC)
    assert timemath.is_upcoming(ReleaseValue(date=dt.date(2026, 11, 1), precision="month"), now, UTC)
    assert not timemath.is_upcoming(ReleaseValue(date=dt.date(2025, 1, 1), precision="year"), now, UTC)
    timed = day(2026, 11, 24, time=dt.time(11, 0), timezone="UTC")
    assert not timemath.is_upcoming(timed, now, UTC)


def test_describe_days():
    assert [timemath.describe_days(n) for n in (-3, -1, 0, 1, 12, 1500)] == [
        "3 days ago", "yesterday", "today", "tomorrow", "in 12 days", "in 1,500 days"]
