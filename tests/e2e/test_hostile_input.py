"""Hostile text on every string option: a clean answer, no exception, no ping, the store intact."""

from __future__ import annotations

import logging

import pytest

from bot import render
from bot.tree import INTERNAL_ERROR

VALID = {"title": "ballerina", "name": "reddick", "region": "US", "franchise": "john-wick"}


def hostile_values(world) -> list[str]:
    role = world.home.fans_role.id
    user = world.home.admin.id
    return [
        "@everyone",
        f"@here <@&{role}> <@{user}> <@!{user}>",
        "x" * 6000,
        "\x00\x07\x1b[31mred\u202eevil\u200b",
        "'; DROP TABLE titles; --",
        "Robert'); DELETE FROM releases WHERE ('1'='1",
        "**bold** `code` ||spoiler|| [link](https://example.com)",
        "🎬" * 300,
        "   ",
    ]


def string_options(world):
    """(command path, option name) for every free-text string option in the registered tree."""
    out = []
    for command in world.dc.commands(world.home.guild):
        for option in command.get("options", []):
            if option["type"] == 3 and not option.get("choices"):
                out.append((command["name"], option["name"]))
    return out


async def counts(store):
    return {table: (await store.fetchone(f"SELECT count(*) FROM {table}"))[0]
            for table in ("titles", "releases", "release_history", "people", "credits", "watch_offers")}


async def test_every_string_option_survives_hostile_text(world, caplog):
    targets = string_options(world)
    assert {("release", "title"), ("person", "name"), ("watch", "region"), ("upcoming", "franchise")} <= set(targets)
    before = await counts(world.bot.store)
    caplog.set_level(logging.ERROR)
    for command, option in targets:
        for value in hostile_values(world):
            options = {name: VALID[name] for name in _required(world, command)}
            options[option] = value
            r = await world.run(command, options)
            assert r.error is None, (command, option, value[:20], r.error)
            assert r.type == 4, (command, option, value[:20])
            assert r.message.pings == set()
            assert INTERNAL_ERROR not in r.message.text, (command, option, value[:20])
            if r.ephemeral:
                assert len(r.message.content) < 400  # a short sentence, not an echo of 6000 characters
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert await counts(world.bot.store) == before
    assert (await world.bot.store.check()).ok


async def test_hostile_autocomplete_is_harmless(world):
    for value in hostile_values(world):
        for command, option in (("release", "title"), ("person", "name"), ("timeline", "franchise")):
            choices = await world.complete(command, {option: value}, option)
            assert choices.error is None
            assert len(choices) <= 25


def _required(world, command_name):
    for command in world.dc.commands(world.home.guild):
        if command["name"] == command_name:
            return [o["name"] for o in command.get("options", []) if o.get("required")]
    raise AssertionError(command_name)


async def test_a_bug_becomes_a_short_apology_and_a_log_line(world, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(render, "release_pages", broken)
    caplog.set_level(logging.ERROR, logger="bot.tree")
    r = await world.run("release", {"title": "ballerina"})
    assert r.ephemeral and r.message.content == INTERNAL_ERROR
    assert "simulated failure" not in r.message.content
    [record] = [rec for rec in caplog.records if rec.name == "bot.tree"]
    assert "/release" in record.getMessage() and str(world.home.guild.id) in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.parametrize("value", ["  ballerina  ", "BALLERINA"])
async def test_padding_and_case_do_not_matter(world, value):
    r = await world.run("countdown", {"title": value})
    assert not r.ephemeral and "Ballerina" in r.message.text


def admin_string_options(world):
    """(command path, option name, required options) for free-text string options of subcommands."""
    out = []
    for command in world.dc.commands(world.mods.guild):
        for sub in command.get("options", []):
            if sub["type"] != 1:
                continue
            required = [o["name"] for o in sub.get("options", []) if o.get("required")]
            for option in sub.get("options", []):
                if option["type"] == 3 and not option.get("choices"):
                    out.append((f"{command['name']} {sub['name']}", option["name"], required))
    return out


ADMIN_VALID = {"title": "ballerina", "date": "2027-01-01", "person": "lance-reddick", "department": "cast",
               "kind": "stream", "provider": "Test Provider", "timezone": "UTC", "region": "US",
               "query": "collection:726871", "hour": "09:00"}


async def test_every_admin_string_option_survives_hostile_text(world, caplog):
    targets = admin_string_options(world)
    assert ("catalog set-release", "note", ["title", "date"]) in targets
    assert len(targets) >= 15
    caplog.set_level(logging.ERROR)
    for command, option, required in targets:
        for value in hostile_values(world):
            valid = {**ADMIN_VALID, "channel": world.mods.channels["release-news"]}
            options = {name: valid[name] for name in required}
            options[option] = value
            r = await world.admin(command, options)
            assert r.error is None, (command, option, value[:20], r.error)
            assert r.message is not None and r.message.pings == set(), (command, option, value[:20])
            assert INTERNAL_ERROR not in r.message.text, (command, option, value[:20])
            assert r.ephemeral
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    store = world.bot.store
    assert (await store.check()).ok
    assert (await store.fetchone("SELECT count(*) FROM titles WHERE guild_id IS NULL"))[0] == 11
    assert (await store.fetchone("SELECT count(*) FROM credits WHERE guild_id IS NULL"))[0] == 110


async def test_help_shows_admin_commands_to_admins_only(world):
    r = await world.admin("help")
    assert "/catalog**" in r.message.text and "/settings**" in r.message.text
    r = await world.run("help", server=world.mods)
    assert "/catalog**" not in r.message.text
