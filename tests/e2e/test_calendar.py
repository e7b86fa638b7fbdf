"""/calendar and the calendar feed through the loopback Discord and a real HTTP client: the file parsed back
with the icalendar library, the feed served, cached and refused, a move followed, a time zone change."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import aiohttp
import icalendar
import pytest

from bot.app import Marquee
from bot.clock import ManualClock
from db import countdowns
from playground.loopback import LoopbackDiscord
from playground.session import DemoServer, add_demo_server, running_bot

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class CalendarWorld:
    dc: LoopbackDiscord
    bot: Marquee
    fans: DemoServer
    elsewhere: DemoServer

    async def run(self, command, options=None, *, server=None, member=None, **kwargs):
        server = server or self.fans
        return await self.dc.run_command(server.guild, server.general, member or server.member, command,
                                         options or {}, **kwargs)

    async def admin(self, command, options=None, *, server=None, **kwargs):
        server = server or self.fans
        r = await self.run(command, options, server=server, member=server.admin, **kwargs)
        assert r.error is None, r.error
        return r

    async def calendar(self, options=None, *, server=None):
        r = await self.run("calendar", options, server=server)
        assert r.error is None and r.ephemeral and r.message.pings == set(), r.message.text
        [attachment] = r.message.attachments
        assert attachment.filename.endswith(".ics")
        return r.message.text, attachment.data, events(attachment.data)


def events(data: bytes) -> dict[str, icalendar.Event]:
    return {str(e["summary"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}


def feed_url(text: str) -> str:
    [url] = re.findall(r"<(http://[^>]+\.ics[^>]*)>", text)
    return url


@pytest.fixture(scope="module")
async def cw(tmp_path_factory):
    async with LoopbackDiscord() as dc:
        dc.rate_limits = False
        fans = add_demo_server(dc, "Calendar Fans")
        elsewhere = add_demo_server(dc, "Elsewhere")
        database = tmp_path_factory.mktemp("calendar") / "marquee.sqlite3"
        async with running_bot(dc, database=database, clock=ManualClock(NOW), guilds=(fans.guild, elsewhere.guild),
                               web_port=0) as bot:
            world = CalendarWorld(dc, bot, fans, elsewhere)
            news = fans.channels["release-news"]
            for name, date, time in (("Calendar Film", "2027-04-10", None), ("Premiere Night", "2027-05-01", "20:00")):
                r = await world.admin("catalog add-title", {"title": name})
                slug = r.message.text.split("`")[1]
                options = {"title": slug, "date": date, "region": "US"}
                if time:
                    options.update(time=time, timezone="America/New_York")
                await world.admin("catalog set-release", options)
                r = await world.admin("reminders add", {"title": slug, "channel": news, "milestones": "1d"})
                assert "will count down" in r.message.text, r.message.text
            yield world


async def test_the_calendar_file_has_the_servers_releases_all_day_or_at_their_instant(cw):
    text, _, found = await cw.calendar()
    assert "2 releases this server counts down to" in text
    film, night = found["Calendar Film"], found["Premiere Night"]
    assert film.decoded("dtstart") == dt.date(2027, 4, 10) and film.decoded("dtend") == dt.date(2027, 4, 11)
    assert night.decoded("dtstart") == dt.datetime(2027, 5, 2, 0, 0, tzinfo=dt.UTC)  # 20:00 EDT
    assert str(film["location"]) == "In theaters (US)" and int(film["sequence"]) == 0
    # Another server follows nothing: its calendar is empty, and shows nothing of this one's.
    text, data, found = await cw.calendar(server=cw.elsewhere)
    assert found == {} and "counts down to no release" in text and b"Calendar Film" not in data


async def test_the_feed_is_served_cached_and_refused_with_a_wrong_token(cw):
    text, data, _ = await cw.calendar()
    url = feed_url(text)
    guild = cw.fans.guild.id
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200 and response.content_type == "text/calendar"
            assert await response.read() == data
            etag = response.headers["ETag"]
        async with http.get(url, headers={"If-None-Match": etag}) as response:
            assert response.status == 304
        base = url.split("/calendar/")[0]
        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        other = ("A" if token[0] != "A" else "B") + token[1:]
        for wrong in (f"{base}/calendar/{guild}/{other}.ics", f"{base}/calendar/{cw.elsewhere.guild.id}/{token}.ics",
                      f"{base}/calendar/{guild}/{token}", f"{base}/calendar/abc/{token}.ics", f"{base}/"):
            async with http.get(wrong) as response:
                body = await response.text()
                assert response.status == 404, wrong
                assert "token" not in body.lower() and "Calendar Film" not in body


async def test_a_move_keeps_the_event_and_raises_its_sequence_in_the_file_and_the_feed(cw):
    text, _, before = await cw.calendar()
    url = feed_url(text)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        etag = response.headers["ETag"]
    await cw.admin("catalog set-release", {"title": "calendar-film", "date": "2027-05-15", "region": "US"})
    _, _, after = await cw.calendar()
    old, new = before["Calendar Film"], after["Calendar Film"]
    assert new["uid"] == old["uid"] and int(new["sequence"]) == int(old["sequence"]) + 1
    assert new.decoded("dtstart") == dt.date(2027, 5, 15) and "Moved from" in str(new["description"])
    assert after["Premiere Night"]["sequence"] == before["Premiere Night"]["sequence"]
    async with aiohttp.ClientSession() as http, http.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 200 and response.headers["ETag"] != etag  # calendar apps see the change
        assert events(await response.read())["Calendar Film"].decoded("dtstart") == dt.date(2027, 5, 15)


async def test_a_time_zone_change_moves_no_event(cw):
    _, _, before = await cw.calendar()
    await cw.admin("settings timezone", {"timezone": "Asia/Tokyo"})
    try:
        _, _, after = await cw.calendar()
    finally:
        await cw.admin("settings timezone", {"timezone": "UTC"})
    for name in ("Calendar Film", "Premiere Night"):  # a date is the same date; an instant the same instant
        assert after[name].decoded("dtstart") == before[name].decoded("dtstart")
        assert after[name]["uid"] == before[name]["uid"]


async def test_an_admin_resets_the_link_and_the_old_one_stops_working(cw):
    text, _, _ = await cw.calendar()
    old = feed_url(text)
    r = await cw.run("settings calendar-reset", server=cw.fans, permission_override=True)
    assert r.ephemeral and "You need the Manage Server permission" in r.message.text
    r = await cw.admin("settings calendar-reset")
    assert r.ephemeral and "no longer works" in r.message.text
    new = feed_url(r.message.text)
    assert new != old
    async with aiohttp.ClientSession() as http:
        async with http.get(old) as response:
            assert response.status == 404
        async with http.get(new) as response:
            assert response.status == 200
    text, _, _ = await cw.calendar()
    assert feed_url(text) == new


# -- Discord Scheduled Events --------------------------------------------------------------------------


def bot_events(cw) -> dict[str, dict]:
    return {e["name"]: e for e in cw.fans.guild.scheduled_events.values()}


async def test_scheduled_events_follow_the_countdowns_created_once_moved_and_deleted(cw):
    from playground.loopback import Permissions

    guild = cw.fans.guild
    r = await cw.run("settings events", {"enabled": True}, permission_override=True)
    assert r.ephemeral and "You need the Manage Server permission" in r.message.text
    guild.bot_role.edit(permissions=Permissions.DEFAULT_BOT & ~Permissions.MANAGE_EVENTS & ~Permissions.CREATE_EVENTS)
    try:
        r = await cw.admin("settings events", {"enabled": True})
        assert r.ephemeral and "I need the Manage Events permission" in r.message.text
    finally:
        guild.bot_role.edit(permissions=Permissions.DEFAULT_BOT)
    assert bot_events(cw) == {} and not cw.bot.guild_settings(guild.id).events_enabled

    r = await cw.admin("settings events", {"enabled": True})
    assert "Events on" in r.message.text and "2 added" in r.message.text, r.message.text
    found = bot_events(cw)
    film, night = found["Calendar Film"], found["Premiere Night"]
    assert film["entity_type"] == 3 and film["entity_metadata"] == {"location": "In theaters (US)"}
    assert film["scheduled_start_time"].startswith("2027-05-15T00:00:00")  # the whole day, in UTC (the server's)
    assert film["scheduled_end_time"].startswith("2027-05-16T00:00:00")
    assert night["scheduled_start_time"].startswith("2027-05-02T00:00:00")  # 20:00 in New York
    assert "**Events:** on" in (await cw.admin("settings show")).message.text
    # A restart (or a second process) syncing again creates nothing twice.
    assert await cw.bot.events.sync(guild.id) == (0, 0, 0)
    assert len(guild.scheduled_events) == 2

    # A move updates the same event.
    await cw.admin("catalog set-release", {"title": "calendar-film", "date": "2027-06-01", "region": "US"})
    await cw.dc.wait_until(lambda: bot_events(cw)["Calendar Film"]["scheduled_start_time"].startswith("2027-06-01"),
                           timeout=5)
    await cw.bot.events.idle()
    assert bot_events(cw)["Calendar Film"]["id"] == film["id"] and len(guild.scheduled_events) == 2

    # A removed countdown, then a removed title: their events go.
    subs = {s.title_slug: s for s in await countdowns.subscriptions(cw.bot.store, guild.id)}
    await cw.admin("reminders remove", {"id": subs["premiere-night"].id})
    await cw.dc.wait_until(lambda: "Premiere Night" not in bot_events(cw), timeout=5)
    await cw.admin("catalog remove-title", {"title": "calendar-film"})
    await cw.dc.wait_until(lambda: bot_events(cw) == {}, timeout=5)
    await cw.bot.events.idle()

    # A new countdown while events are on gets its event; turning events off removes the bot's events.
    r = await cw.admin("catalog add-title", {"title": "Encore"})
    await cw.admin("catalog set-release", {"title": "encore", "date": "2027-08-08", "region": "US"})
    await cw.admin("reminders add", {"title": "encore", "channel": cw.fans.channels["release-news"],
                                     "milestones": "1d"})
    await cw.dc.wait_until(lambda: "Encore" in bot_events(cw), timeout=5)
    await cw.bot.events.idle()
    r = await cw.admin("settings events", {"enabled": False})
    assert "Events off: 1 of my events removed" in r.message.text, r.message.text
    assert bot_events(cw) == {}


async def test_one_move_shows_everywhere_once_channel_events_tab_feed_and_dms(cw):
    """The issue's "done when": an admin moves a date once; the countdown channel, the Events tab, the
    subscribed feed and the member's DMs all show the new date, each exactly once."""
    guild, news, member = cw.fans.guild, cw.fans.channels["release-news"], cw.fans.member
    await cw.admin("catalog add-title", {"title": "Everywhere"})
    await cw.admin("catalog set-release", {"title": "everywhere", "date": "2027-09-09", "region": "US"})
    await cw.admin("reminders add", {"title": "everywhere", "channel": news, "milestones": "7d,1d"})
    r = await cw.run("remindme add", {"title": "everywhere"})
    assert "I'll DM you" in r.message.text, r.message.text
    await cw.admin("settings events", {"enabled": True})
    text, _, before = await cw.calendar()
    url = feed_url(text)
    [event] = [e for e in guild.scheduled_events.values() if e["name"] == "Everywhere"]
    posts_before = len(cw.dc.messages(news, include_interactions=False))

    await cw.admin("catalog set-release", {"title": "everywhere", "date": "2027-10-10", "region": "US"})

    def moved(messages):
        return [m for m in messages if "has moved" in m.content and "Everywhere" in m.content]

    await cw.dc.wait_until(lambda: moved(cw.dc.messages(news, include_interactions=False))
                           and moved(cw.dc.dm_messages(member))
                           and event["scheduled_start_time"].startswith("2027-10-10"), timeout=5)
    await cw.bot.events.idle()
    [post] = moved(cw.dc.messages(news, include_interactions=False))
    assert "**October 10, 2027**" in post.content and post.pings == set()
    assert len(cw.dc.messages(news, include_interactions=False)) == posts_before + 1
    [dm] = moved(cw.dc.dm_messages(member))
    assert "**October 10, 2027**" in dm.content
    assert [e["name"] for e in guild.scheduled_events.values()].count("Everywhere") == 1
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        after = events(await response.read())["Everywhere"]
    assert after.decoded("dtstart") == dt.date(2027, 10, 10) and after["uid"] == before["Everywhere"]["uid"]
    assert int(after["sequence"]) == int(before["Everywhere"]["sequence"]) + 1
    await cw.admin("settings events", {"enabled": False})
