"""`marquee playground`: the line parser, the transcript, and the real command run as a user runs it."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
import pytest_asyncio

from bot.clock import ManualClock
from playground.cli import ParseError, Playground, parse_clock, parse_command, script_lines, split_options
from playground.transcript import format_timestamp, readable, relative_time, render_message
from tests.e2e.conftest import NOW

REPO = Path(__file__).resolve().parents[2]
BALLERINA_NOON = int(dt.datetime(2025, 6, 6, 12, tzinfo=dt.UTC).timestamp())

# A command tree as Discord stores it: plain commands, choices, and a group with subcommands.
TREE = [
    {"name": "release", "type": 1, "options": [
        {"type": 3, "name": "title", "required": True, "autocomplete": True},
        {"type": 3, "name": "region"}]},
    {"name": "timeline", "type": 1, "options": [
        {"type": 3, "name": "franchise", "autocomplete": True},
        {"type": 3, "name": "order", "choices": [{"name": "release", "value": "release"},
                                                 {"name": "story", "value": "story"}]}]},
    {"name": "help", "type": 1},
    {"name": "reminders", "type": 1, "default_member_permissions": "32", "options": [
        {"type": 1, "name": "add", "options": [
            {"type": 3, "name": "title", "required": True},
            {"type": 7, "name": "channel", "required": True},
            {"type": 3, "name": "milestones"},
            {"type": 8, "name": "role"}]},
        {"type": 1, "name": "list"}]},
    {"name": "catalog", "type": 1, "options": [
        {"type": 2, "name": "credits", "options": [
            {"type": 1, "name": "add", "options": [{"type": 3, "name": "person", "required": True}]}]}]},
]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, input=stdin, capture_output=True,
                          text=True, encoding="utf-8", timeout=120, env=env, check=False)


# -- the line parser (nothing started) ----------------------------------------------------------------


def test_parse_plain_command():
    parsed = parse_command("/release title:Ballerina", TREE)
    assert parsed.path == ("release",)
    assert parsed.options == {"title": "Ballerina"}


def test_parse_multi_word_values_run_until_the_next_option():
    parsed = parse_command("/release title:John Wick: Chapter 4 region:New Zealand", TREE)
    assert parsed.options == {"title": "John Wick: Chapter 4", "region": "New Zealand"}


def test_parse_quoted_values():
    parsed = parse_command('/release title:"Mission region: x" region:\'US\'', TREE)
    assert parsed.options == {"title": "Mission region: x", "region": "US"}
    assert parse_command('/release title:"say \\"hi\\""', TREE).options == {"title": 'say "hi"'}


def test_parse_subcommands_and_groups():
    parsed = parse_command("/reminders add title:Ballerina channel:#release-news milestones:7d,1d role:@Release pings",
                           TREE)
    assert parsed.path == ("reminders", "add")
    assert parsed.name == "reminders add"
    assert parsed.options == {"title": "Ballerina", "channel": "#release-news", "milestones": "7d,1d",
                              "role": "@Release pings"}
    assert parse_command("/reminders list", TREE).path == ("reminders", "list")
    parsed = parse_command("/catalog credits add person:Keanu Reeves", TREE)
    assert parsed.path == ("catalog", "credits", "add")
    assert parsed.options == {"person": "Keanu Reeves"}


def test_parse_is_case_insensitive_for_names():
    parsed = parse_command("/Release Title:ballerina", TREE)
    assert parsed.path == ("release",)
    assert parsed.options == {"title": "ballerina"}


@pytest.mark.parametrize(("line", "message"), [
    ("release title:x", "starts with /"),
    ("/relase title:x", "Did you mean release?"),
    ("/release", "needs title:"),
    ("/release Ballerina", "options are written name:value"),
    ("/release titel:Ballerina", "no option 'titel'. Did you mean title?"),
    ("/release title:", "needs a value"),
    ("/release title:a title:b", "given twice"),
    ('/release title:"Ballerina" 2025', "after the quoted value of title"),
    ("/reminders", "needs one of: add, list"),
    ("/reminders ad title:x", "Did you mean add?"),
    ("/help me", "takes no options"),
])
def test_parse_errors_say_what_to_type(line, message):
    with pytest.raises(ParseError, match=None) as caught:
        parse_command(line, TREE)
    assert message in str(caught.value)


def test_split_options_keeps_colons_in_values():
    assert split_options("title:Mission: Impossible", ["title"]) == {"title": "Mission: Impossible"}


def test_parse_clock():
    start = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    assert parse_clock("+7d", start) == start + dt.timedelta(days=7)
    assert parse_clock("+12h", start) == start + dt.timedelta(hours=12)
    assert parse_clock("+30m", start) == start + dt.timedelta(minutes=30)
    assert parse_clock("+1w2d", start) == start + dt.timedelta(days=9)
    assert parse_clock("-1d", start) == start - dt.timedelta(days=1)
    assert parse_clock("2027-01-01", start) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert parse_clock("2027-01-01 09:30", start) == dt.datetime(2027, 1, 1, 9, 30, tzinfo=dt.UTC)
    with pytest.raises(ParseError):
        parse_clock("tomorrow", start)


def test_script_lines_skip_blanks_and_comments():
    assert script_lines("# a tour\n\n/upcoming\n  :as admin  \n#:quit\n") == [(3, "/upcoming"), (4, ":as admin")]


# -- the transcript (nothing started) -----------------------------------------------------------------


def test_timestamps_read_as_dates_relative_to_the_bot_clock():
    assert format_timestamp(BALLERINA_NOON, "D", NOW) == "June 6, 2025"
    assert format_timestamp(BALLERINA_NOON, "R", NOW) == "1 year ago"
    assert format_timestamp(BALLERINA_NOON, "F", NOW) == "Friday, June 6, 2025 12:00 UTC"
    assert relative_time(NOW + dt.timedelta(days=7), NOW) == "in 7 days"
    assert relative_time(NOW - dt.timedelta(hours=3), NOW) == "3 hours ago"
    text = f"**Ballerina** — <t:{BALLERINA_NOON}:D> (<t:{BALLERINA_NOON}:R>) _(in theaters)_ \\*not bold\\*"
    assert readable(text, NOW) == "Ballerina — June 6, 2025 (1 year ago) (in theaters) *not bold*"


def test_render_message_with_embed_fields_footer_and_buttons():
    message = SimpleNamespace(
        content="", attachments=[],
        embeds=[{"title": "Release dates · Ballerina", "description": "**Film**",
                 "fields": [{"name": "United States · Theatrical", "value": f"<t:{BALLERINA_NOON}:D>\nConfirmed"}],
                 "footer": {"text": "Days counted in UTC"}}],
        components=[{"type": 1, "components": [
            {"type": 2, "style": 2, "label": "Previous", "custom_id": "a", "disabled": True},
            {"type": 2, "style": 2, "label": "1/3", "custom_id": "b", "disabled": True},
            {"type": 2, "style": 1, "label": "Next", "custom_id": "c"}]}])
    assert render_message(message, NOW) == [
        "  Release dates · Ballerina",
        "  " + "─" * 25,
        "  Film",
        "",
        "  United States · Theatrical",
        "      June 6, 2025",
        "      Confirmed",
        "",
        "  — Days counted in UTC",
        "",
        "  [Previous (disabled)] [1/3 (disabled)] [Next]",
    ]


# -- the command, as a user runs it ---------------------------------------------------------------------


def test_tour_script_runs_from_the_repo_root():
    done = run_cli("playground", "--script", "examples/tour.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "marquee> /release title:Ballerina" in out
    assert "Marquee replied in #general:" in out
    assert "June 6, 2025 (1 year ago)" in out  # Ballerina's release, read relative to the bot's clock
    assert "Keanu Reeves as John Wick" in out  # /cast title:jw4
    assert "Lance Reddick" in out and "John Wick: Chapter 4 (2023) — as Charon" in out  # /person name:reddick
    assert "[ephemeral] Marquee replied:" in out
    assert "No title matches “nonexistent-movie”." in out
    assert "The bot's clock: " in out and "(moved forward 7 days)" in out
    assert "Countdown · Ballerina" in out
    for noise in ("<t:", "**", "Traceback", "PyNaCl", "INFO", "error:"):
        assert noise not in out
    assert "PyNaCl" not in done.stderr and "Traceback" not in done.stderr


def test_countdown_script_shows_each_post_once_on_time():
    done = run_cli("playground", "--script", "examples/countdown.txt")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    posts = out.count("Marquee posted in #release-news:")
    assert posts == 4  # moved, 1 week, tomorrow, out today
    assert "📅 Ballerina II has moved: January 11, 2027 → January 18, 2027" in out
    assert "⏳ 1 week until Ballerina II — January 18, 2027" in out
    assert "⏳ Ballerina II comes out tomorrow — January 18, 2027" in out
    assert "🎬 Ballerina II is out today!" in out
    assert "posted late" not in out
    assert "Nothing left to post." in out
    # The forum: one post named after the title, made by the first countdown post, the next one in it.
    assert out.count("Marquee posted in #release-forum › Ballerina III:") == 2
    assert "⏳ 1 week until Ballerina III — February 1, 2027" in out
    assert "In #release-forum (its post: #Ballerina III) · 7d,1d. 2 done, 0 to come." in out


def test_script_from_standard_input_and_exit_codes():
    done = run_cli("playground", "--script", "-",
                   stdin="# comment\n\n/timeline order:story\n/release title:nonexistent-movie\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "marquee> /timeline order:story" in done.stdout
    assert "7. Ballerina · Film · June 6, 2025" in done.stdout
    assert "No title matches" in done.stdout  # a user error is an answer, not a failure

    done = run_cli("playground", "--script", "-", stdin="/release Ballerina\n/upcoming\n/nope\n")
    assert done.returncode == 1
    assert "error: options are written name:value" in done.stdout
    assert "Upcoming releases" in done.stdout  # the lines after a failure still run
    assert "line 1, line 3" in done.stderr


def test_buttons_and_a_saved_database(tmp_path):
    """A pack with a long cast (imported with `db import`) pages with buttons; `:click` turns them."""
    people = "".join(f'[[people]]\nslug = "actor-{i:02d}"\nname = "Actor Number {i}"\nsource = "test"\n\n'
                     for i in range(1, 21))
    cast = "".join(f'  [[titles.cast]]\n  person = "actor-{i:02d}"\n  character = "Role {i}"\n  billing = {i}\n'
                   '  source = "test"\n\n' for i in range(1, 21))
    pack = tmp_path / "big.toml"
    pack.write_text(
        '[pack]\nslug = "big-ensemble"\nname = "Big Ensemble"\nversion = 1\nformat = 1\n\n'
        '[sources.test]\nname = "Test data"\n\n[[franchises]]\nslug = "big-ensemble"\nname = "Big Ensemble"\n\n'
        f'{people}[[titles]]\nslug = "big-ensemble-film"\nfranchise = "big-ensemble"\nname = "Big Ensemble Film"\n'
        f'kind = "film"\nstatus = "announced"\nsource = "test"\n\n{cast}', encoding="utf-8")
    database = tmp_path / "saved.sqlite3"
    imported = subprocess.run([sys.executable, "-m", "bot", "db", "import", str(pack)], cwd=REPO, timeout=120,
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "MARQUEE_DATABASE": str(database)})
    assert imported.returncode == 0, imported.stderr
    done = run_cli("playground", "--database", str(database), "--script", "-", stdin=(
        "/cast title:big ensemble\n:click Next\n:as admin\n:click Previous\n:as member\n/upcoming\n"
        ":click Previous\n"))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "[Previous (disabled)] [1/2 (disabled)] [Next]" in out
    assert "Marquee updated the message:" in out and "Actor Number 20 as Role 20" in out
    assert "[Previous] [2/2 (disabled)] [Next (disabled)]" in out
    assert "Only the member who asked can turn these pages" in out  # ada pressed max's buttons
    assert out.count("[Previous (disabled)] [1/2 (disabled)] [Next]") == 2  # max went back to page 1

    done = run_cli("playground", "--database", str(database), "--script", "-", stdin=":click Next\n")
    assert done.returncode == 1
    assert "none of the bot's messages so far has buttons" in done.stdout


# -- in process, with the session's bot: channel posts after the clock moves, completion ------------------
# These use a channel of their own, and give the playground its own clock: moving the session bot's clock
# could set off countdowns that other tests wait for.


@pytest_asyncio.fixture
async def own_channel(world):
    channel = world.home.guild.add_text_channel("playground-test")
    await world.dc.wait_until(lambda: world.bot.get_channel(channel.id) is not None)
    yield channel
    world.home.guild.delete_channel(channel)


async def test_posts_after_the_clock_moves_are_shown(world, own_channel):
    out = io.StringIO()
    clock = ManualClock(NOW)
    playground = Playground(world.dc, world.home, clock, out)
    channel = world.bot.get_channel(own_channel.id)
    role = world.bot.get_guild(world.home.guild.id).get_role(world.home.fans_role.id)
    changed = clock.changed

    async def post_when_the_clock_moves():  # what a countdown scheduler does
        await changed.wait()
        await channel.send(f"{role.mention} **7 days** until Ballerina: <t:{BALLERINA_NOON}:D>",
                           allowed_mentions=discord.AllowedMentions(roles=[role]))

    poster = asyncio.create_task(post_when_the_clock_moves())
    try:
        assert await playground.execute(":clock +7d")
    finally:
        poster.cancel()
    text = out.getvalue()
    assert "The bot's clock: Tuesday, December 1, 2026 12:00 UTC (moved forward 7 days)" in text
    assert "Marquee posted in #playground-test: (notified @Release pings)" in text
    assert "@Release pings 7 days until Ballerina: June 6, 2025" in text


async def test_switching_member_channel_and_user_errors(world, own_channel):
    out = io.StringIO()
    playground = Playground(world.dc, world.home, world.clock, out)
    assert await playground.execute(":as admin")
    assert await playground.execute(":in #playground-test")
    assert await playground.execute("/release title:balerina")
    assert not await playground.execute("/timeline order:sideways")
    assert not await playground.execute(":in #nowhere")
    text = out.getvalue()
    assert "You are ada (admin; roles: Moderators)" in text
    assert "Marquee replied in #playground-test:" in text and "Release dates · Ballerina" in text
    assert "error: order: must be one of release, story; not 'sideways'" in text
    assert "error: which channel? #general, #release-news, #rules" in text


async def test_tab_completion_asks_the_bot(world):
    playground = Playground(world.dc, world.home, world.clock, io.StringIO())
    loop = asyncio.get_running_loop()

    def complete(buffer):  # readline calls the completer on the input thread
        return loop.run_in_executor(None, playground.complete, buffer, loop)

    assert await complete("/rel") == ["/release "]
    assert await complete("/release ti") == ["/release title:"]
    assert await complete("/timeline order:st") == ["/timeline order:story "]
    titles = await complete("/release title:balle")
    assert titles[0] == "/release title:ballerina "
    assert "ballerina  (Ballerina (2025))" in playground.completion_labels.values()
    assert await complete("/release title:Ballerina re") == ["/release title:Ballerina region:"]
    assert await complete(":as a") == [":as admin"]
