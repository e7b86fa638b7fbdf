"""/settings and /catalog through the loopback Discord: permissions, validation, the audit trail, the pack
round trip, and isolation between servers. Edits happen in the "mods" server; "home" and "other" must
never see them."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from db import countdowns, queries
from playground.loopback import CommandUnavailable


async def audit_count(world) -> int:
    return (await world.bot.store.fetchone("SELECT count(*) FROM audit_log"))[0]


def assert_refused(r, *needles):
    assert r.error is None, r.error
    assert r.ephemeral, r.message.text
    for needle in needles:
        assert needle in r.message.text, r.message.text
    assert r.message.pings == set()


def assert_done(r, *needles):
    assert r.error is None, r.error
    assert r.ephemeral
    for needle in needles:
        assert needle in r.message.text, r.message.text


# -- permissions --------------------------------------------------------------------------------------


async def test_admin_commands_are_hidden_from_members_and_refused_at_run_time(world):
    commands = {c["name"]: c for c in world.dc.commands(world.mods.guild)}
    assert commands["settings"]["default_member_permissions"] == "32"  # Manage Server
    assert commands["catalog"]["default_member_permissions"] == "32"
    before = await audit_count(world)
    with pytest.raises(CommandUnavailable):
        await world.run("catalog add-title", {"title": "Sneaky"}, server=world.mods)
    # A server admin can override default_member_permissions; the bot checks again when it runs.
    for command, options in [("catalog add-title", {"title": "Sneaky"}),
                             ("settings timezone", {"timezone": "Europe/Paris"}),
                             ("catalog remove-title", {"title": "ballerina"})]:
        r = await world.run(command, options, server=world.mods, permission_override=True)
        assert_refused(r, "You need the Manage Server permission")
    assert await audit_count(world) == before
    r = await world.run("release", {"title": "ballerina"}, server=world.mods)
    assert not r.ephemeral  # the title is still there


# -- settings -----------------------------------------------------------------------------------------


async def test_settings_are_validated_and_used(world):
    r = await world.admin("settings timezone", {"timezone": "Mars/Olympus_Mons"})
    assert_refused(r, "is not a time zone", "Europe/London")
    choices = await world.dc.autocomplete(world.mods.guild, world.mods.general, world.mods.admin,
                                          "settings timezone", {"timezone": "london"}, focused="timezone")
    assert choices[0]["value"] == "Europe/London"
    assert_done(await world.admin("settings timezone", {"timezone": "europe/london"}), "Europe/London")
    assert_done(await world.admin("settings region", {"region": "gb"}), "United Kingdom (GB)")
    r = await world.admin("settings region", {"region": "Narnia"})
    assert_refused(r, "is not a country")
    r = await world.admin("settings alerts-channel", {"channel": world.mods.channels["rules"]})
    assert_refused(r, "I can't post in")
    assert_done(await world.admin("settings alerts-channel", {"channel": world.mods.channels["release-news"]}),
                "Problems will be reported")
    r = await world.admin("settings show")
    assert_done(r, "Europe/London", "United Kingdom (GB)", f"<#{world.mods.channels['release-news'].id}>")
    # Days are now counted in the server's zone; other servers still count in UTC.
    r = await world.run("release", {"title": "ballerina"}, server=world.mods)
    assert "Days counted in Europe/London" in r.message.text
    r = await world.run("release", {"title": "ballerina"})
    assert "Days counted in UTC" in r.message.text


async def test_the_posting_hour_is_a_validated_time_and_day_milestones_follow_it(world):
    mods = world.mods
    channel = mods.channels["release-news"]
    assert_done(await world.admin("settings timezone", {"timezone": "Europe/London"}), "Europe/London")
    assert_done(await world.admin("catalog add-title", {"title": "Posting Hour Film"}), "posting-hour-film")
    assert_done(await world.admin("catalog set-release", {"title": "posting-hour-film", "date": "2027-05-20",
                                                          "region": "US"}), "Set **Posting Hour Film**")
    before = await audit_count(world)
    for bad in ("25:00", "9am", "12:60", "@everyone"):
        r = await world.admin("settings posting-hour", {"hour": bad})
        assert_refused(r, "is not a time of day", "HH:MM")
    r = await world.run("settings posting-hour", {"hour": "07:00"}, server=mods, permission_override=True)
    assert_refused(r, "You need the Manage Server permission")
    assert await audit_count(world) == before  # nothing changed
    assert "**Posting hour:** 09:00" in (await world.admin("settings show")).message.text

    assert_done(await world.admin("settings posting-hour", {"hour": "18:30"}), "now post at **18:30** (Europe/London)")
    assert "**Posting hour:** 18:30" in (await world.admin("settings show")).message.text
    r = await world.admin("reminders add", {"title": "posting-hour-film", "channel": channel, "milestones": "1d"})
    # The day before, at 18:30 in London: British Summer Time, 17:30 UTC.
    assert f"<t:{int(dt.datetime(2027, 5, 19, 17, 30, tzinfo=dt.UTC).timestamp())}:R>" in r.message.text, r.message.text
    [sub] = [s for s in await countdowns.subscriptions(world.bot.store, mods.guild.id)
             if s.title_slug == "posting-hour-film"]
    try:
        # Changing it plans the countdowns already there again.
        assert_done(await world.admin("settings posting-hour", {"hour": "7:05"}), "**07:05**")
        [sub] = [s for s in await countdowns.subscriptions(world.bot.store, mods.guild.id) if s.id == sub.id]
        assert sub.next_due == dt.datetime(2027, 5, 19, 6, 5, tzinfo=dt.UTC)
        assert (await queries.guild_settings(world.bot.store, mods.guild.id)).posting_time == dt.time(7, 5)
    finally:
        await world.admin("reminders remove", {"id": sub.id})
        await world.admin("settings posting-hour", {"hour": "09:00"})
        await world.admin("catalog remove-title", {"title": "posting-hour-film"})


# -- the moderator's day: the "done when" -------------------------------------------------------


async def test_add_date_cast_watch_move_export_import_history_and_nobody_else_sees_it(world):
    mods = world.mods
    # Offers are recorded for the server's region (this test must not lean on an earlier one having set it).
    assert_done(await world.admin("settings region", {"region": "gb"}), "United Kingdom (GB)")
    r = await world.admin("catalog add-title", {"title": "Wick: The Fan Cut", "kind": "film",
                                                "synopsis": "A fan edit.", "aliases": "Fan Cut, WFC",
                                                "story-position": 7})
    assert_done(r, "Added **Wick: The Fan Cut** (`wick-the-fan-cut`)")
    r = await world.admin("catalog set-release", {"title": "fan cut", "date": "2027-02-14", "time": "19:00",
                                                  "timezone": "America/New_York", "region": "US"})
    assert_done(r, "Set **Wick: The Fan Cut** (United States, theatrical)")
    instant = int(dt.datetime(2027, 2, 15, 0, 0, tzinfo=dt.UTC).timestamp())  # 19:00 EST = midnight UTC
    assert f"<t:{instant}:F>" in r.message.text
    assert_done(await world.admin("catalog add-credit", {"title": "wfc", "person": "keanu-reeves",
                                                         "department": "cast", "role": "Himself"}),
                "Credited **Keanu Reeves** on **Wick: The Fan Cut** as Himself")
    assert_done(await world.admin("catalog add-credit", {"title": "wfc", "person": "Nora Newcomer",
                                                         "department": "crew", "role": "Director"}),
                "**Nora Newcomer** (new to the catalog)")
    assert_done(await world.admin("catalog set-watch", {"title": "wfc", "provider": "Peacock", "kind": "rent",
                                                        "price": "2.49"}),
                "rent on Peacock for 2.49 GBP in United Kingdom")
    r = await world.admin("catalog set-release", {"title": "wfc", "date": "2027-03-14", "time": "19:00",
                                                  "timezone": "America/New_York", "region": "US"})
    assert_done(r, "Moved **Wick: The Fan Cut** (United States, theatrical) from February 14, 2027")
    moves = await world.bot.store.fetchall(
        "SELECT m.* FROM release_moves m JOIN releases r ON r.id = m.release_id JOIN titles t ON t.id = r.title_id "
        "WHERE t.slug = 'wick-the-fan-cut'")
    assert [(m["old_date"], m["new_date"], m["guild_id"]) for m in moves] == [
        ("2027-02-14", "2027-03-14", mods.guild.id)]

    # What members of this server see.
    r = await world.run("release", {"title": "Fan Cut"}, server=mods)
    assert "Date changes: February 14, 2027 → March 14, 2027" in r.message.text
    r = await world.run("cast", {"title": "wfc"}, server=mods)
    assert "**Keanu Reeves** as Himself" in r.message.text
    r = await world.run("watch", {"title": "wfc", "region": "GB"}, server=mods)
    assert "**Peacock** — 2.49 GBP" in r.message.text
    r = await world.run("person", {"name": "Nora Newcomer"}, server=mods)
    assert "**Wick: The Fan Cut** (2027) — Director" in r.message.text

    # Export, edit the file, import it back.
    r = await world.admin("catalog export")
    assert_done(r, "1 titles")
    [attachment] = r.message.attachments
    exported = tomllib.loads(attachment.data.decode())
    assert [t["slug"] for t in exported["titles"]] == ["wick-the-fan-cut"]
    assert exported["titles"][0]["cast"][0]["person"] == "keanu-reeves"  # a global person, by slug
    edited = attachment.data.decode().replace('synopsis = "A fan edit."', 'synopsis = "A fan edit, recut."')
    edited = edited.replace("date = 2027-03-14", "date = 2027-04-01")
    assert edited != attachment.data.decode()
    upload = world.dc.attachment("fan-cut.toml", edited)
    r = await world.admin("catalog import", {"file": upload})
    assert_done(r, "Imported", "1 release date(s) moved")
    r = await world.run("info", {"title": "wfc"}, server=mods)
    assert "A fan edit, recut." in r.message.text
    r = await world.run("release", {"title": "wfc"}, server=mods)
    assert "March 14, 2027 → April 1, 2027" in r.message.text

    # The audit trail.
    r = await world.admin("catalog history", {"title": "wfc"})
    text = r.message.text
    assert r.ephemeral
    for action in ("add-title", "set-release date", "add-credit cast", "add-credit crew", "set-watch", "import"):
        assert f"**{action}**" in text, action
    assert f"<@{mods.admin.id}>" in text
    # (underscores are escaped for Discord's markdown, which shows them plainly)
    assert ("2027-02-14 19:00 America/New\\_York (confirmed) → 2027-03-14 19:00 America/New\\_York (confirmed)"
            in text)
    assert r.message.pings == set()

    # Another server sees none of it.
    for server in (world.home, world.other):
        r = await world.run("release", {"title": "wick-the-fan-cut"}, server=server)
        assert r.ephemeral and "No title matches" in r.message.text
        r = await world.run("person", {"name": "Nora Newcomer"}, server=server)
        assert r.ephemeral
        choices = await world.dc.autocomplete(server.guild, server.general, server.member, "cast",
                                              {"title": "fan cut"}, focused="title")
        assert all(c["value"] != "wick-the-fan-cut" for c in choices)
        r = await world.run("cast", {"title": "ballerina"}, server=server)
        assert "Himself" not in r.message.text


async def test_history_survives_removal(world):
    assert_done(await world.admin("catalog add-title", {"title": "Short Lived"}), "Added")
    assert_done(await world.admin("catalog remove-title", {"title": "short lived"}), "Removed **Short Lived**")
    r = await world.run("info", {"title": "short-lived"}, server=world.mods)
    assert r.ephemeral
    r = await world.admin("catalog history", {"title": "short-lived"})
    assert "**remove-title**" in r.message.text and "**add-title**" in r.message.text


# -- corrections of global facts stay in their server ---------------------------------------------------


async def test_correcting_global_data_changes_this_server_only(world):
    r = await world.admin("catalog set-release", {"title": "ballerina", "date": "2025-06-13", "region": "US"})
    assert_done(r, "Moved **Ballerina** (United States, theatrical) from June 6, 2025")
    r = await world.run("release", {"title": "ballerina"}, server=world.mods)
    assert "Date changes: June 7, 2024 → June 6, 2025 → June 13, 2025" in r.message.text
    r = await world.run("release", {"title": "ballerina"})
    assert "Date changes: June 7, 2024 → June 6, 2025" in r.message.text and "June 13" not in r.message.text

    assert_done(await world.admin("catalog edit-title", {"title": "jw4", "name": "John Wick 4 (Director's Cut)"}),
                "for this server")
    r = await world.run("info", {"title": "jw4"}, server=world.mods)
    assert r.message.embeds[0]["title"] == "John Wick 4 (Director's Cut)"
    r = await world.run("info", {"title": "jw4"})
    assert r.message.embeds[0]["title"] == "John Wick: Chapter 4"

    # Pages are shared until the catalog changes: asked once before the edit, they must not outlive it.
    r = await world.run("cast", {"title": "ballerina"}, server=world.mods)
    assert "**Keanu Reeves** as John Wick" in r.message.text
    assert_done(await world.admin("catalog remove-credit", {"title": "ballerina", "person": "keanu-reeves",
                                                            "department": "cast"}), "Removed 1 cast credit")
    r = await world.run("cast", {"title": "ballerina"}, server=world.mods)
    assert "Keanu Reeves" not in r.message.text
    r = await world.run("cast", {"title": "ballerina"})
    assert "**Keanu Reeves** as John Wick" in r.message.text

    assert_done(await world.admin("catalog remove-title", {"title": "video game"}), "Hid (in this server only)")
    r = await world.run("info", {"title": "video game"}, server=world.mods)
    assert r.ephemeral
    r = await world.run("info", {"title": "video game"})
    assert not r.ephemeral
    # The global rows themselves are untouched.
    title = await queries.get_title(world.bot.store, "ballerina", None)
    [release] = await queries.releases_for_title(world.bot.store, title, None, region="US")
    assert release.value.date == dt.date(2025, 6, 6)


# -- validation: one sentence, nothing written -----------------------------------------------------------


@pytest.mark.parametrize(("command", "options", "needle"), [
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-30"}, "is not a date that exists"),
    ("catalog set-release", {"title": "ballerina", "date": "June 6"}, "use YYYY-MM-DD"),
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-01", "time": "25:61"}, "is not a time of day"),
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-01", "time": "19:00",
                             "timezone": "Mars/Olympus"}, "is not a time zone"),
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-01", "timezone": "Europe/Paris"},
     "A time zone needs a time"),
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-01", "region": "XX"}, "is not a country"),
    ("catalog set-release", {"title": "The Matrix", "date": "2027-02-01"}, "No title matches"),
    ("catalog set-release", {"title": "ballerina", "date": "2027-02-01", "note": "n" * 6000}, "at most 200"),
    ("catalog add-title", {"title": "t" * 101}, "at most 100"),
    ("catalog add-title", {"title": "Ballerina"}, "is already in the catalog"),
    ("catalog add-title", {"title": "Ok", "synopsis": "s" * 6000}, "at most 1,000"),
    ("catalog add-title", {"title": "Ok", "aliases": ",".join(["a"] * 30)}, "at most 25"),
    ("catalog edit-title", {"title": "ballerina"}, "Nothing to change"),
    ("catalog add-credit", {"title": "ballerina", "person": "Someone", "department": "crew"}, "need a job"),
    ("catalog add-credit", {"title": "ballerina", "person": "lance-reddick", "department": "cast",
                            "role": "Charon"}, "already has that cast credit"),
    ("catalog remove-credit", {"title": "jw4", "person": "ana-de-armas", "department": "cast"}, "has no cast credit"),
    ("catalog set-watch", {"title": "jw4", "provider": "Shop", "kind": "buy", "price": "cheap"}, "is not a price"),
    ("catalog set-watch", {"title": "jw4", "provider": "Shop", "kind": "buy", "price": "3.99 ZZZ"},
     "is not a currency code"),
    ("catalog history", {"title": "never-was"}, "No changes to `never-was`"),
])
async def test_bad_input_gets_one_sentence_and_changes_nothing(world, command, options, needle):
    before = await audit_count(world)
    r = await world.admin(command, options)
    assert_refused(r, needle)
    assert len(r.message.text) < 300
    assert await audit_count(world) == before


async def test_a_bad_pack_changes_nothing_and_says_where(world):
    before = await audit_count(world)
    bad = """
[pack]
slug = "broken"
name = "Broken"
version = 1
format = 1
[sources.me]
name = "Me"
[[franchises]]
slug = "broken"
name = "Broken"
[[titles]]
slug = "good-one"
franchise = "broken"
name = "Good One"
kind = "film"
status = "announced"
source = "me"
[[titles]]
slug = "bad-one"
franchise = "nowhere"
name = "Bad One"
kind = "opera"
status = "announced"
source = "me"
  [[titles.releases]]
  region = "US"
  medium = "theatrical"
  date = "2027-02-30"
  source = "me"
  as_of = 2026-11-24
"""
    r = await world.admin("catalog import", {"file": world.dc.attachment("broken.toml", bad)})
    assert_refused(r, "Nothing was imported", "titles[1].franchise", "titles[1].kind",
                   "titles[1].releases[0].date: expected a date as YYYY-MM-DD that exists")
    assert await audit_count(world) == before
    r = await world.run("info", {"title": "good-one"}, server=world.mods)
    assert r.ephemeral  # not even the good title went in
    r = await world.admin("catalog import", {"file": world.dc.attachment("syntax.toml", "[pack\nslug = 1")})
    assert_refused(r, "Nothing was imported", "not valid TOML", "line 1")
    r = await world.admin("catalog import", {"file": world.dc.attachment("notes.txt", "hello")})
    assert_refused(r, "Attach a .toml or .json")
    r = await world.admin("catalog import", {"file": world.dc.attachment("huge.toml", "#" * 1_100_000)})
    assert_refused(r, "packs can be at most")


async def test_hostile_text_in_admin_options_is_stored_inert(world):
    name = "@everyone <@&1> **Bold** \x00\u202e"
    r = await world.admin("catalog add-title", {"title": name})
    assert r.error is None and r.message.pings == set()
    r = await world.run("info", {"title": "everyone bold"}, server=world.mods)
    assert r.error is None and r.message.pings == set()
    assert "\x00" not in r.message.text and "\u202e" not in r.message.text
    r = await world.admin("catalog add-title", {"title": "'; DROP TABLE titles; --"})
    assert r.error is None
    assert (await world.bot.store.check()).ok
    assert (await world.bot.store.fetchone("SELECT count(*) FROM titles WHERE guild_id IS NULL"))[0] == 11
