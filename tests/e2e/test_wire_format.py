"""The registered command tree against Discord's rules and the PRODUCT.md contract, and everything the
bot sent during the session against Discord's OpenAPI description. Runs after the other e2e modules."""

from __future__ import annotations

import unicodedata

import pytest

CONTRACT = {
    "release": ["title", "region"],
    "info": ["title"],
    "cast": ["title"],
    "crew": ["title", "department"],
    "person": ["name"],
    "watch": ["title", "region"],
    "upcoming": ["franchise"],
    "timeline": ["franchise", "order"],
    "countdown": ["title"],
    "help": [],
}
AUTOCOMPLETE = {("release", "title"), ("info", "title"), ("cast", "title"), ("crew", "title"),
                ("person", "name"), ("watch", "title"), ("countdown", "title"), ("upcoming", "franchise"),
                ("timeline", "franchise")}


def valid_name(name: str) -> bool:
    ok = all(ch in "-_'" or unicodedata.category(ch)[0] in "LN" for ch in name)
    return ok and 1 <= len(name) <= 32 and name == name.lower()


def command_chars(command: dict) -> int:
    total = len(command["name"]) + len(command.get("description", ""))
    for option in command.get("options", []):
        total += command_chars(option)
        for choice in option.get("choices", []):
            total += len(choice["name"]) + len(str(choice["value"]))
    return total


def check(command: dict, where: str) -> list[str]:
    problems = []
    if not valid_name(command["name"]):
        problems.append(f"{where}: bad name {command['name']!r}")
    if not 1 <= len(command.get("description", "")) <= 100:
        problems.append(f"{where}: description length")
    options = command.get("options", [])
    if len(options) > 25:
        problems.append(f"{where}: more than 25 options")
    seen_optional = False
    for option in options:
        if option.get("required") and seen_optional:
            problems.append(f"{where}.{option['name']}: required after optional")
        seen_optional = seen_optional or not option.get("required")
        if len(option.get("choices", [])) > 25:
            problems.append(f"{where}.{option['name']}: more than 25 choices")
        if option.get("choices") and option.get("autocomplete"):
            problems.append(f"{where}.{option['name']}: choices and autocomplete")
        problems += check(option, f"{where}.{option['name']}")
    return problems


async def test_every_registered_command_obeys_discords_rules(world):
    commands = world.dc.commands(world.home.guild)
    assert commands
    problems = []
    for command in commands:
        problems += check(command, command["name"])
        if command_chars(command) > 8000:
            problems.append(f"{command['name']}: more than 8000 characters")
    assert problems == []


async def test_the_command_surface_matches_the_contract(world):
    commands = {c["name"]: c for c in world.dc.commands(world.home.guild)}
    for name, options in CONTRACT.items():
        assert name in commands, name
        assert [o["name"] for o in commands[name].get("options", [])] == options, name
        if name != "help":
            assert commands[name].get("default_member_permissions") is None  # everyone can use it
    for name, option in AUTOCOMPLETE:
        [opt] = [o for o in commands[name]["options"] if o["name"] == option]
        assert opt.get("autocomplete") is True, (name, option)
    order = next(o for o in commands["timeline"]["options"] if o["name"] == "order")
    assert [c["value"] for c in order["choices"]] == ["release", "story"]
    # Both servers got the same commands (they are synced to each development guild).
    assert {c["name"] for c in world.dc.commands(world.other.guild)} == set(commands)


async def test_nothing_the_bot_sent_pinged_anyone_it_was_not_told_to(world):
    """Command answers ping nobody; a post may ping only the roles its allowed_mentions names."""
    for server in (world.home, world.other):
        for channel in server.channels.values():
            for message in world.dc.messages(channel, include_ephemeral=True):
                opted_in = {f"role:{r}" for r in (message.allowed_mentions or {}).get("roles", [])}
                if message.interaction_id is not None:
                    opted_in = set()
                assert message.pings <= opted_in, message.text[:80]


async def test_every_request_matched_discords_openapi_description(world):
    if not world.dc.spec_enabled:
        pytest.skip(world.dc.spec_skip_reason)
    assert len(world.dc.requests) > 50
    assert world.dc.spec_violations == []
