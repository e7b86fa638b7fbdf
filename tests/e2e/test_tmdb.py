"""TMDB end to end: the real bot, the loopback Discord and the loopback TMDB. A server's admins bring a
franchise in with /catalog import-tmdb; members ask about it; a date that moves at TMDB is posted once."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest
import pytest_asyncio

from bot.app import Marquee
from bot.clock import ManualClock
from playground.loopback import LoopbackDiscord
from playground.session import DemoServer, add_demo_server, running_bot
from playground.tmdb import LoopbackTMDB
from tests.e2e.countdown_helpers import settle

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # Dune: Part Three opens on 2026-12-18
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB"
# A collection whose second film is not at TMDB: the import must fail whole.
BROKEN = {"collections": {880000: {"id": 880000, "name": "Broken Collection", "overview": "", "parts": [
    {"id": 438631, "title": "Dune", "media_type": "movie", "release_date": "2021-10-22"},
    {"id": 880001, "title": "Missing", "media_type": "movie", "release_date": "2022-01-01"}]}}}


@dataclass
class TMDBWorld:
    dc: LoopbackDiscord
    tmdb: LoopbackTMDB
    bot: Marquee
    clock: ManualClock
    fans: DemoServer  # imports Dune
    elsewhere: DemoServer  # never imports anything

    async def run(self, command, options=None, *, server=None, member=None, **kwargs):
        server = server or self.fans
        return await self.dc.run_command(server.guild, server.general, member or server.member, command,
                                         options or {}, **kwargs)

    async def admin(self, command, options=None, *, server=None):
        server = server or self.fans
        return await self.run(command, options, server=server, member=server.admin)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tw(tmp_path_factory):
    clock = ManualClock(NOW)
    async with LoopbackDiscord() as dc, LoopbackTMDB(token="tmdb-read-token", fixtures=BROKEN) as tmdb:
        dc.rate_limits = False
        fans = add_demo_server(dc, "Dune Fans")
        elsewhere = add_demo_server(dc, "Elsewhere")
        database = tmp_path_factory.mktemp("tmdb") / "marquee.sqlite3"

        def quick_retries(bot: Marquee) -> None:
            bot.tmdb.client_options = {"backoff": 0.01, "timeout": 2.0}

        async with running_bot(dc, database=database, clock=clock, guilds=(fans.guild, elsewhere.guild),
                               before_start=quick_retries, tmdb_token=tmdb.token, tmdb_api_url=tmdb.url,
                               tmdb_refresh_minutes=0) as bot:
            world = TMDBWorld(dc, tmdb, bot, clock, fans, elsewhere)
            r = await world.admin("catalog import-tmdb", {"query": "collection:726871"})
            assert r.error is None and "Imported **Dune Collection** from TMDB" in r.message.text, r.message.text
            yield world


def day(text: str) -> str:
    """How /release shows a date-only release: a Discord timestamp at noon UTC (the same day everywhere)."""
    return f"<t:{int(dt.datetime.fromisoformat(text).replace(hour=12, tzinfo=dt.UTC).timestamp())}:D>"


async def titles_of(world, guild_id):
    rows = await world.bot.store.fetchall("SELECT count(*) AS n FROM titles WHERE guild_id = ?", (guild_id,))
    return rows[0]["n"]


async def test_admins_find_a_franchise_at_tmdb_by_name(tw):
    server = tw.fans
    choices = await tw.dc.autocomplete(server.guild, server.general, server.admin, "catalog import-tmdb",
                                       {"query": "dune"}, focused="query")
    assert choices.error is None
    pairs = [(c["name"], c["value"]) for c in choices]
    assert pairs[0] == ("Collection · Dune Collection", "collection:726871")
    assert ("Series · Dune: Prophecy (2024)", "tv:90228") in pairs
    assert ("Film · Dune: Part Three (2026)", "movie:1170608") in pairs


async def test_the_import_answers_release_cast_crew_and_watch(tw):
    r = await tw.admin("catalog import-tmdb", {"query": "collection:726871"})  # again: the same rows
    assert "3 title(s)" in r.message.text and ATTRIBUTION in r.message.text and r.ephemeral
    assert await titles_of(tw, tw.fans.guild.id) == 3

    r = await tw.run("release", {"title": "dune part three"})
    assert r.error is None and "Dune: Part Three" in r.message.text
    assert day("2026-12-18") in r.message.text and "in 17 days" in r.message.text

    r = await tw.run("cast", {"title": "Dune"})
    lines = [line for line in r.message.text.splitlines() if "Paul Atreides" in line or "Lady Jessica" in line]
    assert "Timothée Chalamet" in lines[0] and "Paul Atreides" in lines[0]
    assert "Rebecca Ferguson" in lines[1]

    r = await tw.run("crew", {"title": "Dune"})
    assert "Denis Villeneuve" in r.message.text and "Director" in r.message.text
    assert "Hans Zimmer" in r.message.text

    r = await tw.run("watch", {"title": "Dune", "region": "US"})
    assert "Max" in r.message.text and "Apple TV" in r.message.text
    assert "as of December 1, 2026" in r.message.text
    assert "JustWatch" in r.message.text


async def test_another_server_never_sees_a_servers_import(tw):
    r = await tw.run("release", {"title": "Dune: Part Three"}, server=tw.elsewhere)
    assert r.ephemeral and "No title matches" in r.message.text


async def test_a_date_moved_at_tmdb_is_posted_once_and_dmed(tw):
    server = tw.fans
    news = server.channels["release-news"]
    r = await tw.admin("reminders add", {"title": "dune part three", "channel": news, "milestones": "7d,1d,0"})
    assert "will count down" in r.message.text, r.message.text
    r = await tw.run("remindme add", {"title": "dune part three"})
    assert "I'll DM you" in r.message.text

    tw.tmdb.set_release(1170608, region="US", type=3, date="2027-01-15")
    before = tw.bot.scheduler.passes
    outcome = await tw.bot.refresh_tmdb()
    assert [(m.title_slug, m.old.date, m.new.date) for m in outcome.moved] == [
        ("tmdb-movie-1170608", dt.date(2026, 12, 18), dt.date(2027, 1, 15))]
    await settle(tw, before)
    moved = [m for m in tw.dc.messages(news, include_interactions=False) if "has moved" in m.content]
    assert len(moved) == 1
    assert "**Dune: Part Three** has moved: December 18, 2026 → **January 15, 2027**" in moved[0].content
    assert moved[0].pings == set()
    dms = [m for m in tw.dc.dm_messages(server.member) if "has moved" in m.content]
    assert len(dms) == 1

    before = tw.bot.scheduler.passes
    again = await tw.bot.refresh_tmdb()  # nothing changed at TMDB: nothing moves, nothing is posted
    assert again.moved == [] and len(again.done) == 1
    tw.bot.scheduler.wake()
    await settle(tw, before)
    assert len([m for m in tw.dc.messages(news, include_interactions=False) if "has moved" in m.content]) == 1

    r = await tw.run("release", {"title": "dune part three", "region": "US"})
    assert day("2027-01-15") in r.message.text and "December 18, 2026" in r.message.text  # the history


async def test_a_servers_own_correction_wins_over_the_refresh(tw):
    r = await tw.admin("catalog set-release", {"title": "dune part two", "date": "2024-03-08", "region": "US"})
    assert r.error is None and "Moved" in r.message.text, r.message.text
    r = await tw.admin("catalog edit-title", {"title": "dune part two", "synopsis": "Our own words."})
    assert r.error is None
    tw.tmdb.set_release(693134, region="US", type=3, date="2024-03-15")
    tw.tmdb.movie(693134)["overview"] = "TMDB's new words."
    outcome = await tw.bot.refresh_tmdb()
    assert outcome.failed == []
    r = await tw.run("release", {"title": "dune part two", "region": "US"})
    assert day("2024-03-08") in r.message.text and day("2024-03-15") not in r.message.text
    r = await tw.run("info", {"title": "dune part two"})
    assert "Our own words." in r.message.text and "TMDB's new words" not in r.message.text


async def test_a_failed_import_writes_nothing(tw):
    guild = tw.fans.guild.id
    before = await titles_of(tw, guild)
    r = await tw.admin("catalog import-tmdb", {"query": "collection:880000"})  # its second film is missing
    assert r.ephemeral and "Nothing was imported" in r.message.text and "not found at TMDB" in r.message.text
    r = await tw.admin("catalog import-tmdb", {"query": "movie:123"})
    assert "not found at TMDB" in r.message.text
    tw.tmdb.fail_next(status=503, count=4)
    r = await tw.admin("catalog import-tmdb", {"query": "tv:90228"})
    assert "Nothing was imported" in r.message.text and "TMDB did not answer" in r.message.text
    r = await tw.admin("catalog import-tmdb", {"query": "Dune"})  # typed, not picked from the suggestions
    assert "Pick one of the suggestions" in r.message.text
    assert await titles_of(tw, guild) == before


async def test_a_servers_daily_tmdb_cap_is_kept(tw):
    from db import tmdb as tmdb_db

    guild = tw.fans.guild.id
    used = await tmdb_db.used_today(tw.bot.store, guild, NOW.date())
    assert used > 0  # the imports and the autocomplete above were counted
    cap, tw.bot.tmdb.daily_cap = tw.bot.tmdb.daily_cap, used + 1  # room for the series, not its seasons
    try:
        before = await titles_of(tw, guild)
        r = await tw.admin("catalog import-tmdb", {"query": "tv:90228"})
        assert f"used its {used + 1} TMDB requests for today" in r.message.text
        assert await titles_of(tw, guild) == before
    finally:
        tw.bot.tmdb.daily_cap = cap


async def test_a_member_cannot_import_even_where_an_override_shows_the_command(tw):
    requests = tw.tmdb.request_count()
    r = await tw.run("catalog import-tmdb", {"query": "tv:90228"}, permission_override=True)
    assert r.ephemeral and "Manage Server" in r.message.text
    assert tw.tmdb.request_count() == requests


async def test_tmdb_text_is_as_untrusted_as_a_members(tw):
    r = await tw.admin("catalog import-tmdb", {"query": "collection:990000"})
    assert "Imported" in r.message.text and r.message.pings == set()
    for command in ("info", "cast", "release"):
        r = await tw.run(command, {"title": "free nitro"})
        assert r.error is None and r.message.pings == set(), command
        assert "@everyone" not in r.message.content and "\u202e" not in r.message.text and "\x07" not in r.message.text
        embed = r.message.embeds[0]
        assert len(embed.get("description", "")) <= 4096
    r = await tw.run("info", {"title": "free nitro"})
    assert "\\*\\*Free Nitro\\*\\*" in r.message.embeds[0]["title"]  # markdown shown as typed, not bold


async def test_a_global_import_moves_for_every_server_except_one_that_corrected_it(tw):
    """The operator's import is global; a server that set its own date keeps it, and gets no "moved" post."""
    from bot.tmdb import Source

    tw.tmdb.set_air_date(90228, season=2, date="2027-01-10")  # announced by the time of the import
    await tw.bot.tmdb.import_source(Source("tv", 90228))  # as `marquee db import-tmdb --tv 90228` would
    season = "Dune: Prophecy – Season 2"
    for _ in range(100):  # the global search index is rebuilt in the background after a catalog change
        if any(h.entry.name == season for h in await tw.bot.catalog.search_titles(None, season)):
            break
        await asyncio.sleep(0.02)
    for server in (tw.fans, tw.elsewhere):
        r = await tw.admin("reminders add", {"title": season, "channel": server.general,
                                             "milestones": "1d"}, server=server)
        assert "will count down" in r.message.text, r.message.text
    r = await tw.admin("catalog set-release", {"title": season, "date": "2027-02-01", "region": "US",
                                               "medium": "tv"})
    assert r.error is None and "Moved" in r.message.text, r.message.text
    tw.tmdb.set_air_date(90228, season=2, date="2027-03-01")
    before = tw.bot.scheduler.passes
    outcome = await tw.bot.refresh_tmdb()
    assert ("tmdb-tv-90228-s2", dt.date(2027, 1, 10), dt.date(2027, 3, 1)) in [
        (m.title_slug, m.old.date, m.new.date) for m in outcome.moved]
    await settle(tw, before)

    def moved(server):
        return [m for m in tw.dc.messages(server.general, include_interactions=False)
                if "has moved" in m.content]

    for _ in range(200):  # both posts are due now: wait for the dispatcher to have sent them
        if moved(tw.elsewhere) and moved(tw.fans):
            break
        tw.bot.scheduler.wake()
        await asyncio.sleep(0.025)
    await asyncio.sleep(0.2)  # and nothing more comes
    assert len(moved(tw.elsewhere)) == 1 and "**March 1, 2027**" in moved(tw.elsewhere)[0].content
    fans_moves = moved(tw.fans)
    assert len(fans_moves) == 1 and "**February 1, 2027**" in fans_moves[0].content  # its own move only
    r = await tw.run("release", {"title": season, "region": "US"})
    assert day("2027-02-01") in r.message.text and day("2027-03-01") not in r.message.text
    r = await tw.run("release", {"title": season, "region": "US"}, server=tw.elsewhere)
    assert day("2027-03-01") in r.message.text
