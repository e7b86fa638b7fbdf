import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot import countdown
from db.models import ReleaseValue

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def test_default_and_custom_milestones():
    assert countdown.canonical(countdown.parse_milestones(None)) == "30d,14d,7d,3d,1d,0"
    assert countdown.canonical(countdown.parse_milestones(" 0, 15m,12h ,7d,7d")) == "7d,12h,15m,0"


@pytest.mark.parametrize(("text", "needle"), [
    ("soon", "is not a milestone"), ("400d", "out of range"), ("0h,", "0"), ("", "30d"),
    (",".join(f"{n}d" for n in range(1, 20)), "at most 12"), ("-3d", "is not a milestone"),
])
def test_bad_milestones_are_explained(text, needle):
    if needle in ("0", "30d"):
        assert countdown.parse_milestones(text)  # these are fine
        return
    with pytest.raises(ValueError, match=needle):
        countdown.parse_milestones(text)


def test_timed_release_fires_at_exact_offsets():
    value = ReleaseValue(date=dt.date(2027, 3, 14), time=dt.time(19, 0), timezone="America/New_York")
    release = dt.datetime(2027, 3, 14, 23, 0, tzinfo=UTC)  # 19:00 EDT
    plan = dict((m.label, d) for m, d in countdown.plan(value, countdown.parse_milestones("7d,12h,15m,0"), UTC,
                                                        dt.time(9)))
    assert plan == {"7d": release - dt.timedelta(days=7), "12h": release - dt.timedelta(hours=12),
                    "15m": release - dt.timedelta(minutes=15), "0": release}


def test_day_milestones_fire_at_the_posting_hour_across_new_york_dst():
    # DST starts in New York on 2027-03-14. A release on 2027-03-20: the 7d post (March 13) is at
    # 09:00 EST = 14:00 UTC, the 3d post (March 17) at 09:00 EDT = 13:00 UTC.
    value = ReleaseValue(date=dt.date(2027, 3, 20))
    plan = dict((m.label, d) for m, d in countdown.plan(value, countdown.parse_milestones("7d,3d,0"), NY, dt.time(9)))
    assert plan["7d"] == dt.datetime(2027, 3, 13, 14, 0, tzinfo=UTC)
    assert plan["3d"] == dt.datetime(2027, 3, 17, 13, 0, tzinfo=UTC)
    assert plan["0"] == dt.datetime(2027, 3, 20, 13, 0, tzinfo=UTC)
    assert all(d.astimezone(NY).hour == 9 for d in plan.values())


def test_day_milestones_across_london_autumn_change():
    # British Summer Time ends on 2027-10-31.
    value = ReleaseValue(date=dt.date(2027, 11, 2))
    plan = dict((m.label, d) for m, d in countdown.plan(value, countdown.parse_milestones("3d,1d"), LONDON, dt.time(9)))
    assert plan["3d"] == dt.datetime(2027, 10, 30, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert plan["1d"] == dt.datetime(2027, 11, 1, 9, 0, tzinfo=UTC)  # 09:00 GMT


def test_an_hour_that_does_not_exist_lands_after_the_jump():
    # 02:00 does not exist in New York on 2027-03-14; the post goes out at 03:00 EDT.
    value = ReleaseValue(date=dt.date(2027, 3, 15))
    [(_, due)] = countdown.plan(value, countdown.parse_milestones("1d"), NY, dt.time(2))
    assert due == dt.datetime(2027, 3, 14, 7, 0, tzinfo=UTC)


def test_hour_milestones_of_a_date_only_release_count_from_its_midnight():
    value = ReleaseValue(date=dt.date(2027, 6, 1))
    [(_, due)] = countdown.plan(value, countdown.parse_milestones("12h"), LONDON, dt.time(9))
    assert due == dt.datetime(2027, 5, 31, 11, 0, tzinfo=UTC)  # 12:00 BST the day before


def test_imprecise_dates_have_no_plan():
    assert countdown.plan(ReleaseValue(date=dt.date(2027, 6, 1), precision="month"),
                          countdown.parse_milestones(None), UTC, dt.time(9)) == []


def test_wording():
    value = ReleaseValue(date=dt.date(2027, 6, 1))
    def line(label, **kw):
        return countdown.milestone_line("Ballerina", countdown.Milestone.parse(label), value, **kw)
    assert line("30d").startswith("⏳ **30 days** until **Ballerina**")
    assert line("7d").startswith("⏳ **1 week** until")
    assert line("14d").startswith("⏳ **2 weeks** until")
    assert "comes out tomorrow" in line("1d")
    assert line("0") == "🎬 **Ballerina** is out today!"
    assert "posted late" in line("3d", late=True)
    assert line("12h").startswith("⏳ **12 hours** until")
