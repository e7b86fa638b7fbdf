"""Discord permission bits and Discord's permission computation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Permissions:
    """Permission bits as plain ints (combine with ``|``)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
    USE_SOUNDBOARD = 1 << 42
    CREATE_GUILD_EXPRESSIONS = 1 << 43
    CREATE_EVENTS = 1 << 44
    USE_EXTERNAL_SOUNDS = 1 << 45
    SEND_VOICE_MESSAGES = 1 << 46
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50
    PIN_MESSAGES = 1 << 51

    ALL = (1 << 52) - 1

    # What a new server gives @everyone.
    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | STREAM
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | USE_VAD
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | REQUEST_TO_SPEAK
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | USE_EXTERNAL_STICKERS
        | SEND_MESSAGES_IN_THREADS
        | USE_EMBEDDED_ACTIVITIES
        | USE_SOUNDBOARD
        | USE_EXTERNAL_SOUNDS
        | SEND_VOICE_MESSAGES
        | SEND_POLLS
        | USE_EXTERNAL_APPS
    )

    # What the bot's own (managed) role gets by default: what an invite link would typically ask for.
    DEFAULT_BOT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS
        | MANAGE_EVENTS
        | CREATE_EVENTS
    )

    # Permissions that only make sense when a member can send messages in a text channel.
    _TEXT_DEPENDENT = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS

    @staticmethod
    def names(value: int) -> list[str]:
        """Names of the bits set in ``value``."""
        return [
            k
            for k, v in vars(Permissions).items()
            if k.isupper() and not k.startswith(("ALL", "DEFAULT", "_")) and isinstance(v, int) and value & v
        ]


def base_permissions(
    *, everyone_permissions: int, role_permissions: Iterable[int], is_owner: bool = False
) -> int:
    """Guild-level permissions of a member: @everyone | all their roles (owner and ADMINISTRATOR get all)."""
    if is_owner:
        return Permissions.ALL
    perms = everyone_permissions
    for p in role_permissions:
        perms |= p
    if perms & Permissions.ADMINISTRATOR:
        return Permissions.ALL
    return perms


def apply_overwrites(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[dict[str, Any]],
    text_channel: bool = True,
) -> int:
    """Discord's algorithm: @everyone overwrite, then all role overwrites together, then the member's."""
    if base & Permissions.ADMINISTRATOR:
        return Permissions.ALL
    ows = list(overwrites)
    perms = base
    for ow in ows:
        if int(ow["id"]) == guild_id:
            perms &= ~int(ow.get("deny", 0))
            perms |= int(ow.get("allow", 0))
            break
    role_ids = {int(r) for r in member_role_ids}
    allow = deny = 0
    for ow in ows:
        if int(ow.get("type", 0)) == 0 and int(ow["id"]) in role_ids and int(ow["id"]) != guild_id:
            allow |= int(ow.get("allow", 0))
            deny |= int(ow.get("deny", 0))
    perms &= ~deny
    perms |= allow
    for ow in ows:
        if int(ow.get("type", 0)) == 1 and int(ow["id"]) == member_id:
            perms &= ~int(ow.get("deny", 0))
            perms |= int(ow.get("allow", 0))
            break
    # Implicit permissions: no VIEW_CHANNEL means nothing; no SEND_MESSAGES removes what depends on it.
    if not perms & Permissions.VIEW_CHANNEL:
        return 0
    if text_channel and not perms & Permissions.SEND_MESSAGES:
        perms &= ~Permissions._TEXT_DEPENDENT
    return perms
