"""Discord's rules as the loopback applies them, without a bot."""

from __future__ import annotations

import pytest

from playground.loopback import LoopbackDiscord, Permissions, compute_pings
from playground.loopback.permissions import apply_overwrites, base_permissions
from playground.loopback.rules import (
    DiscordError,
    valid_command_name,
    validate_autocomplete_choices,
    validate_command_list,
    validate_message_body,
)
from playground.loopback.spec import load_spec


def cmd(**kw):
    base = {"name": "release", "description": "Show a release", "type": 1}
    base.update(kw)
    return base


def opt(name, otype=3, **kw):
    return {"name": name, "description": "d", "type": otype, **kw}


def code_of(fn, *args, **kw) -> int:
    with pytest.raises(DiscordError) as exc:
        fn(*args, **kw)
    return exc.value.code


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("release", True),
        ("add-reminder", True),
        ("o'clock", True),
        ("фильм", True),
        ("फ़िल्म", True),
        ("ภาพยนตร์", True),
        ("Release", False),
        ("two words", False),
        ("x" * 33, False),
        ("", False),
        ("emoji🎬", False),
    ],
)
def test_command_names(name, ok):
    if ok:
        assert valid_command_name(name)
        validate_command_list([cmd(name=name)])
    else:
        assert code_of(validate_command_list, [cmd(name=name)]) == 50035


def test_command_limits():
    validate_command_list([cmd(options=[opt(f"o{i}") for i in range(25)])])
    assert code_of(validate_command_list, [cmd(options=[opt(f"o{i}") for i in range(26)])]) == 50035
    assert code_of(validate_command_list, [cmd(description="x" * 101)]) == 50035
    assert code_of(validate_command_list, [cmd(description="")]) == 50035
    choices = [{"name": f"c{i}", "value": f"v{i}"} for i in range(26)]
    assert code_of(validate_command_list, [cmd(options=[opt("c", choices=choices)])]) == 50035
    required_after_optional = [opt("a", required=False), opt("b", required=True)]
    assert code_of(validate_command_list, [cmd(options=required_after_optional)]) == 50035
    nested = [opt("g", 2, options=[opt("s", 1, options=[opt("x", 1)])])]
    assert code_of(validate_command_list, [cmd(options=nested)]) == 50035
    mixed = [opt("s", 1), opt("x", 3)]
    assert code_of(validate_command_list, [cmd(options=mixed)]) == 50035
    big = [
        opt(f"o{i}", description="d" * 100, choices=[{"name": "n" * 100, "value": "v" * 100}] * 25)
        for i in range(3)
    ]
    assert code_of(validate_command_list, [cmd(options=big)]) == 50035  # > 8000 characters
    assert code_of(validate_command_list, [cmd(), cmd()]) == 50035  # duplicate names
    validate_command_list([{"name": "Poke Someone", "type": 2, "description": ""}])  # user command


def test_message_limits():
    validate_message_body({"content": "x" * 2000}, partial=False)
    assert code_of(validate_message_body, {"content": "x" * 2001}, partial=False) == 50035
    assert code_of(validate_message_body, {"content": ""}, partial=False) == 50006
    assert code_of(validate_message_body, {"embeds": [{"title": "t"}] * 11}, partial=False) == 50035
    assert code_of(validate_message_body, {"embeds": [{"title": "t" * 257}]}, partial=False) == 50035
    fields = [{"name": "n", "value": "v" * 1025}]
    assert code_of(validate_message_body, {"embeds": [{"fields": fields}]}, partial=False) == 50035
    assert (
        code_of(validate_message_body, {"embeds": [{"footer": {"text": "f" * 2049}}]}, partial=False) == 50035
    )
    six_k = {"embeds": [{"description": "d" * 4096}, {"description": "d" * 1905}]}
    assert code_of(validate_message_body, six_k, partial=False) == 50035
    button = {"type": 2, "style": 1, "label": "b", "custom_id": "x" * 101}
    assert (
        code_of(validate_message_body, {"components": [{"type": 1, "components": [button]}]}, partial=False)
        == 50035
    )
    row = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": f"b{i}"} for i in range(6)]}
    assert code_of(validate_message_body, {"components": [row]}, partial=False) == 50035
    rows = [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": f"r{i}"}]} for i in range(6)]
    assert code_of(validate_message_body, {"components": rows}, partial=False) == 50035
    exclusive = {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}
    assert code_of(validate_message_body, exclusive, partial=False) == 50035
    assert code_of(validate_message_body, {"content": "x", "nonce": "n" * 26}, partial=False) == 50035


def test_autocomplete_limits():
    validate_autocomplete_choices([{"name": "a", "value": "a"}] * 25)
    assert code_of(validate_autocomplete_choices, [{"name": "a", "value": "a"}] * 26) == 50035
    assert code_of(validate_autocomplete_choices, [{"name": "", "value": "a"}]) == 50035
    assert code_of(validate_autocomplete_choices, [{"name": "a", "value": "v" * 101}]) == 50035


def test_pings():
    uid, rid = 111111111111111111, 222222222222222222
    text = f"<@{uid}> <@&{rid}> @everyone @here"
    everything = compute_pings(text, None, can_mention_everyone=True)
    assert everything.pings == {f"user:{uid}", f"role:{rid}", "everyone", "here"}
    assert compute_pings(text, {"parse": []}, can_mention_everyone=True).pings == set()
    assert compute_pings(text, {"parse": ["users"]}, can_mention_everyone=True).pings == {f"user:{uid}"}
    assert compute_pings(text, {"parse": [], "roles": [str(rid)]}, can_mention_everyone=True).pings == {
        f"role:{rid}"
    }
    assert compute_pings(f"<@!{uid}>", {"users": [uid]}).pings == {f"user:{uid}"}
    # @everyone needs MENTION_EVERYONE; a role that is not mentionable too
    assert compute_pings("@everyone", None, can_mention_everyone=False).pings == set()
    assert compute_pings(f"<@&{rid}>", None, role_mentionable=lambda _r: False).pings == set()
    # replies ping the replied-to author by default, not when allowed_mentions says replied_user false
    assert compute_pings("ok", None, replied_user_id=uid).pings == {f"user:{uid}"}
    assert compute_pings("ok", {"parse": []}, replied_user_id=uid).pings == set()
    assert compute_pings("ok", {"parse": [], "replied_user": True}, replied_user_id=uid).pings == {
        f"user:{uid}"
    }


def test_permissions():
    everyone = Permissions.VIEW_CHANNEL | Permissions.SEND_MESSAGES | Permissions.EMBED_LINKS
    base = base_permissions(everyone_permissions=everyone, role_permissions=[Permissions.MANAGE_GUILD])
    gid, role, member = 1, 2, 3
    deny_role = [{"id": role, "type": 0, "allow": 0, "deny": Permissions.SEND_MESSAGES}]
    perms = apply_overwrites(
        base, guild_id=gid, member_id=member, member_role_ids=[role], overwrites=deny_role
    )
    assert not perms & Permissions.SEND_MESSAGES
    assert not perms & Permissions.EMBED_LINKS  # implicitly gone with Send Messages
    member_allow = [*deny_role, {"id": member, "type": 1, "allow": Permissions.SEND_MESSAGES, "deny": 0}]
    perms = apply_overwrites(
        base, guild_id=gid, member_id=member, member_role_ids=[role], overwrites=member_allow
    )
    assert perms & Permissions.SEND_MESSAGES
    hidden = [{"id": gid, "type": 0, "allow": 0, "deny": Permissions.VIEW_CHANNEL}]
    assert apply_overwrites(base, guild_id=gid, member_id=member, member_role_ids=[], overwrites=hidden) == 0
    admin = base_permissions(everyone_permissions=0, role_permissions=[Permissions.ADMINISTRATOR])
    assert apply_overwrites(admin, guild_id=gid, member_id=member, member_role_ids=[], overwrites=hidden) == (
        Permissions.ALL
    )


def test_spec_accepts_discord_py_shapes():
    spec, reason = load_spec(None)
    if spec is None:
        pytest.skip(reason)
    body = {
        "content": "x",
        "allowed_mentions": {"parse": [], "users": [123456789012345678]},
        "message_reference": {"message_id": 123456789012345678, "fail_if_not_exists": True},
    }
    assert spec.validate("POST", "/channels/123/messages", body) == []
    assert spec.validate("POST", "/channels/{channel_id}/messages", {"content": 5})
    command = {"name": "x", "description": "d", "default_member_permissions": "32", "type": 1}
    assert spec.validate("PUT", "/applications/1/commands", [command]) == []
    again, _ = load_spec(None)
    assert again is spec  # loaded once per process


@pytest.mark.asyncio(loop_scope="session")
async def test_spec_missing_is_reported():
    async with LoopbackDiscord(spec_path="/nonexistent/openapi.json") as dc:
        assert not dc.spec_enabled and "not found" in dc.spec_skip_reason
    async with LoopbackDiscord(spec_path=False) as dc:
        assert not dc.spec_enabled
