"""The loopback's world: users, guilds, roles, channels, members, messages.

Every change made after the bot connected is dispatched on the gateway the way Discord does it
(GUILD_ROLE_CREATE, CHANNEL_UPDATE, GUILD_MEMBER_UPDATE, ...).
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .permissions import Permissions, apply_overwrites, base_permissions
from .snowflake import iso, snowflake_time, utcnow

if TYPE_CHECKING:
    from .core import LoopbackDiscord

TEXT_TYPES = {0, 1, 3, 5, 10, 11, 12, 15, 16}  # text, dm, group dm, news, threads, forum, media
MESSAGEABLE_TYPES = {0, 1, 2, 3, 5, 10, 11, 12, 13}  # voice and stage channels have text chat too
THREAD_TYPES = {10, 11, 12}  # announcement thread, public thread, private thread
THREAD_ONLY_TYPES = {15, 16}  # forum and media channels: only posts (threads), no messages of their own
REQUIRE_TAG = 1 << 4  # channel flag of a forum whose posts must carry a tag
PINNED = 1 << 1  # channel flag of a pinned forum post


def _id(obj: Any) -> int:
    """An id from a model object, a discord.py object or an int/str."""
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str):
        return int(obj)
    return int(obj.id)


@dataclass(eq=False)
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    dms_closed: bool = False
    locale: str = "en-US"

    @property
    def name(self) -> str:
        return self.username

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "primary_guild": None,
            "collectibles": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class Role:
    guild: Guild
    id: int
    name: str
    permissions: int = 0
    color: int = 0
    hoist: bool = False
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    tags: dict[str, Any] | None = None
    deleted: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    @property
    def is_everyone(self) -> bool:
        return self.id == self.guild.id

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.tags is not None:
            data["tags"] = self.tags
        return data

    def edit(
        self,
        *,
        name: str | None = None,
        permissions: int | None = None,
        mentionable: bool | None = None,
        color: int | None = None,
        hoist: bool | None = None,
    ) -> Role:
        """Change the role (dispatches GUILD_ROLE_UPDATE)."""
        if name is not None:
            self.name = name
        if permissions is not None:
            self.permissions = int(permissions)
        if mentionable is not None:
            self.mentionable = mentionable
        if color is not None:
            self.color = color
        if hoist is not None:
            self.hoist = hoist
        self.guild._dc._dispatch_guild(
            self.guild, "GUILD_ROLE_UPDATE", {"guild_id": str(self.guild.id), "role": self.payload()}
        )
        return self


def normalize_overwrites(overwrites: Iterable[dict[str, Any]] | None) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for ow in overwrites or []:
        target = ow["id"]
        ow_type = ow.get("type")
        if ow_type is None:
            ow_type = 1 if isinstance(target, (Member, User)) else 0
        out.append(
            {
                "id": _id(target),
                "type": int(ow_type),
                "allow": int(ow.get("allow", 0)),
                "deny": int(ow.get("deny", 0)),
            }
        )
    return out


@dataclass(eq=False)
class Channel:
    id: int
    type: int
    name: str | None
    guild: Guild | None = None
    position: int = 0
    overwrites: list[dict[str, int]] = field(default_factory=list)
    topic: str | None = None
    nsfw: bool = False
    parent_id: int | None = None
    rate_limit_per_user: int = 0
    recipient: User | None = None  # DM channels
    deleted: bool = False
    last_message_id: int | None = None
    flags: int = 0
    # Threads (types 10-12): who started it, its state, and who joined it (private threads: who may see it).
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: dt.datetime | None = None
    created_at: dt.datetime | None = None
    thread_members: set[int] = field(default_factory=set)
    message_count: int = 0
    total_message_sent: int = 0
    # Forum and media channels (types 15, 16): the tags a post may carry.
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    applied_tags: list[str] = field(default_factory=list)  # a forum post's tags

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def parent(self) -> Channel | None:
        if self.guild is None or self.parent_id is None:
            return None
        return self.guild.channels.get(self.parent_id)

    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild else None

    def payload(self) -> dict[str, Any]:
        if self.type == 1:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "flags": 0,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id) if self.guild else None,
            "name": self.name,
            "position": self.position,
            "flags": self.flags,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": [
                {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
                for o in self.overwrites
            ],
        }
        if self.is_thread:
            # A thread has no position or overwrites of its own: it inherits its parent's permissions.
            del data["position"], data["permission_overwrites"]
            data.update(
                owner_id=str(self.owner_id) if self.owner_id else None,
                last_message_id=str(self.last_message_id) if self.last_message_id else None,
                rate_limit_per_user=self.rate_limit_per_user,
                message_count=self.message_count,
                total_message_sent=self.total_message_sent,
                member_count=min(len(self.thread_members), 50),
                thread_metadata=self.thread_metadata(),
            )
            if self.parent is not None and self.parent.type in THREAD_ONLY_TYPES:
                data["applied_tags"] = list(self.applied_tags)
            return data
        if self.type in THREAD_ONLY_TYPES:
            data.update(
                available_tags=list(self.available_tags),
                default_reaction_emoji=None,
                default_thread_rate_limit_per_user=0,
                default_sort_order=None,
                default_forum_layout=0,
            )
        if self.type in (0, 5, 15, 16):
            data.update(
                topic=self.topic,
                nsfw=self.nsfw,
                rate_limit_per_user=self.rate_limit_per_user,
                last_message_id=str(self.last_message_id) if self.last_message_id else None,
                default_auto_archive_duration=1440,
            )
        if self.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None, nsfw=self.nsfw, rate_limit_per_user=0)
        return data

    def thread_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "archived": self.archived,
            "auto_archive_duration": self.auto_archive_duration,
            "archive_timestamp": iso(self.archive_timestamp or self.created_at or utcnow()),
            "locked": self.locked,
            "create_timestamp": iso(self.created_at) if self.created_at else None,
        }
        if self.type == 12:
            data["invitable"] = True
        return data

    def _changed(self) -> None:
        if self.guild is not None:
            event = "THREAD_UPDATE" if self.is_thread else "CHANNEL_UPDATE"
            self.guild._dc._dispatch_guild(self.guild, event, self.payload())

    # ----- threads
    def set_archived(self, archived: bool = True, *, locked: bool | None = None) -> Channel:
        """Archive (or unarchive) a thread, as Discord does after inactivity or a moderator does (THREAD_UPDATE)."""
        if not self.is_thread:
            raise ValueError("only threads are archived")
        self.archived = archived
        if locked is not None:
            self.locked = locked
        self.archive_timestamp = utcnow()
        if archived:
            self.flags &= ~PINNED  # archiving a post unpins it
        self._changed()
        return self

    def set_locked(self, locked: bool = True) -> Channel:
        if not self.is_thread:
            raise ValueError("only threads are locked")
        self.locked = locked
        self._changed()
        return self

    def add_thread_member(self, member: Any) -> Channel:
        self.thread_members.add(_id(member))
        self._changed()
        return self

    def set_permissions(self, target: Any, *, allow: int = 0, deny: int = 0) -> Channel:
        """Set (or with allow=deny=0, remove) the overwrite for a role or member (CHANNEL_UPDATE)."""
        tid = _id(target)
        ow_type = 1 if isinstance(target, (Member, User)) else 0
        self.overwrites = [o for o in self.overwrites if o["id"] != tid]
        if allow or deny:
            self.overwrites.append({"id": tid, "type": ow_type, "allow": int(allow), "deny": int(deny)})
        self._changed()
        return self

    def edit(
        self,
        *,
        name: str | None = None,
        topic: str | None = None,
        overwrites: Iterable[dict[str, Any]] | None = None,
        nsfw: bool | None = None,
    ) -> Channel:
        if name is not None:
            self.name = name
        if topic is not None:
            self.topic = topic
        if overwrites is not None:
            self.overwrites = normalize_overwrites(overwrites)
        if nsfw is not None:
            self.nsfw = nsfw
        self._changed()
        return self


@dataclass(eq=False)
class Member:
    guild: Guild
    user: User
    nick: str | None = None
    role_ids: list[int] = field(default_factory=list)
    joined_at: dt.datetime = field(default_factory=utcnow)
    pending: bool = False
    flags: int = 0
    communication_disabled_until: dt.datetime | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def display_name(self) -> str:
        return self.nick or self.user.global_name or self.user.username

    @property
    def mention(self) -> str:
        return f"<@{self.user.id}>"

    @property
    def dms_closed(self) -> bool:
        return self.user.dms_closed

    @dms_closed.setter
    def dms_closed(self, value: bool) -> None:
        self.user.dms_closed = value

    @property
    def roles(self) -> list[Role]:
        return [self.guild.roles[r] for r in self.role_ids if r in self.guild.roles]

    def permissions(self, channel: Channel | None = None) -> int:
        return self.guild.permissions_for(self, channel)

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": self.pending,
            "flags": self.flags,
            "communication_disabled_until": iso(self.communication_disabled_until),
            "unusual_dm_activity_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def _changed(self) -> None:
        data = self.payload()
        data["guild_id"] = str(self.guild.id)
        self.guild._dc._dispatch_guild(self.guild, "GUILD_MEMBER_UPDATE", data, member_event_for=self.id)

    def add_roles(self, *roles: Any) -> Member:
        for r in roles:
            rid = _id(r)
            if rid not in self.role_ids and rid != self.guild.id:
                self.role_ids.append(rid)
        self._changed()
        return self

    def remove_roles(self, *roles: Any) -> Member:
        ids = {_id(r) for r in roles}
        self.role_ids = [r for r in self.role_ids if r not in ids]
        self._changed()
        return self

    def edit(self, *, nick: str | None = None, timed_out_until: dt.datetime | None = None) -> Member:
        if nick is not None:
            self.nick = nick or None
        if timed_out_until is not None:
            self.communication_disabled_until = timed_out_until
        self._changed()
        return self


class Guild:
    """A guild in the loopback. Create with ``LoopbackDiscord.add_guild``."""

    def __init__(
        self,
        dc: LoopbackDiscord,
        guild_id: int,
        name: str,
        *,
        owner: User,
        preferred_locale: str = "en-US",
    ) -> None:
        self._dc = dc
        self.id = guild_id
        self.name = name
        self.owner_id = owner.id
        self.preferred_locale = preferred_locale
        self.roles: dict[int, Role] = {}
        self.channels: dict[int, Channel] = {}
        self.members: dict[int, Member] = {}
        self.scheduled_events: dict[int, dict[str, Any]] = {}
        self.joined_at = utcnow()
        self.removed = False
        self.features: list[str] = []
        self._announced = False  # set once the guild is complete (then changes are dispatched)
        self._unavailable = False  # in an outage (dc.start_outage / dc.end_outage)

    def __repr__(self) -> str:
        return f"<Guild id={self.id} name={self.name!r}>"

    @property
    def unavailable(self) -> bool:
        """True while the guild is in an outage (``dc.start_outage(guild)`` until ``dc.end_outage(guild)``)."""
        return self._unavailable

    # ----- lookups
    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def bot_member(self) -> Member:
        return self.members[self._dc.bot_user_id]

    @property
    def bot_role(self) -> Role | None:
        for r in self.roles.values():
            if r.tags and r.tags.get("bot_id") == str(self._dc.bot_user_id):
                return r
        return None

    @property
    def owner(self) -> Member:
        return self.members[self.owner_id]

    def get_channel(self, name_or_id: str | int) -> Channel | None:
        for ch in self.channels.values():
            if ch.id == name_or_id or ch.name == name_or_id:
                return ch
        return None

    def get_role(self, name_or_id: str | int) -> Role | None:
        for r in self.roles.values():
            if r.id == name_or_id or r.name == name_or_id:
                return r
        return None

    def get_member(self, name_or_id: str | int) -> Member | None:
        for m in self.members.values():
            if m.id == name_or_id or m.user.username == name_or_id:
                return m
        return None

    def permissions_for(self, member: Member | Any, channel: Channel | Any | None = None) -> int:
        """Discord's computed permissions of ``member`` (guild-level, or in ``channel``)."""
        m = member if isinstance(member, Member) else self.members[_id(member)]
        base = base_permissions(
            everyone_permissions=self.everyone.permissions,
            role_permissions=[r.permissions for r in m.roles],
            is_owner=m.id == self.owner_id,
        )
        if channel is None:
            return base
        ch = channel if isinstance(channel, Channel) else self.channels[_id(channel)]
        if ch.is_thread:
            perms = self._thread_permissions(m, base, ch)
        else:
            perms = apply_overwrites(
                base,
                guild_id=self.id,
                member_id=m.id,
                member_role_ids=m.role_ids,
                overwrites=ch.overwrites,
                text_channel=ch.type in TEXT_TYPES,
            )
        timed_out = m.communication_disabled_until is not None and m.communication_disabled_until > utcnow()
        if timed_out and perms != Permissions.ALL:
            perms &= Permissions.VIEW_CHANNEL | Permissions.READ_MESSAGE_HISTORY
        return perms

    def _thread_permissions(self, m: Member, base: int, thread: Channel) -> int:
        """A thread inherits its parent's permissions. Send Messages means nothing there: Send Messages in
        Threads does (and embeds and files depend on it); a private thread is seen only by its members and
        by those with Manage Threads."""
        parent = thread.parent
        if parent is None:
            return 0
        perms = apply_overwrites(
            base,
            guild_id=self.id,
            member_id=m.id,
            member_role_ids=m.role_ids,
            overwrites=parent.overwrites,
            text_channel=False,
        )
        if perms == Permissions.ALL:
            return perms
        if not perms & Permissions.VIEW_CHANNEL:
            return 0
        if thread.type == 12 and m.id not in thread.thread_members and not perms & Permissions.MANAGE_THREADS:
            return 0
        if not perms & Permissions.SEND_MESSAGES_IN_THREADS:
            perms &= ~Permissions._TEXT_DEPENDENT
        return perms

    # ----- changes
    def _next_position(self, kind: str) -> int:
        if kind == "role":
            return max((r.position for r in self.roles.values()), default=0) + 1
        return max((c.position for c in self.channels.values()), default=-1) + 1

    def add_role(
        self,
        name: str,
        *,
        permissions: int = 0,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        tags: dict[str, Any] | None = None,
    ) -> Role:
        role = Role(
            guild=self,
            id=self._dc._snowflakes.next(),
            name=name,
            permissions=int(permissions),
            color=color,
            hoist=hoist,
            position=self._next_position("role"),
            managed=managed,
            mentionable=mentionable,
            tags=tags,
        )
        self.roles[role.id] = role
        self._dc._dispatch_guild(
            self, "GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.payload()}
        )
        return role

    def delete_role(self, role: Role | int) -> None:
        rid = _id(role)
        if rid == self.id:
            raise ValueError("cannot delete @everyone")
        r = self.roles.pop(rid)
        r.deleted = True
        for m in self.members.values():
            if rid in m.role_ids:
                m.role_ids.remove(rid)
        self._dc._dispatch_guild(self, "GUILD_ROLE_DELETE", {"guild_id": str(self.id), "role_id": str(rid)})
        for ch in self.channels.values():
            if any(o["id"] == rid for o in ch.overwrites):
                ch.overwrites = [o for o in ch.overwrites if o["id"] != rid]
                ch._changed()

    def add_channel(
        self,
        name: str,
        *,
        type: int = 0,
        overwrites: Iterable[dict[str, Any]] | None = None,
        topic: str | None = None,
        parent: Channel | int | None = None,
        nsfw: bool = False,
        rate_limit_per_user: int = 0,
    ) -> Channel:
        ch = Channel(
            id=self._dc._snowflakes.next(),
            type=type,
            name=name,
            guild=self,
            position=self._next_position("channel"),
            overwrites=normalize_overwrites(overwrites),
            topic=topic,
            nsfw=nsfw,
            parent_id=_id(parent) if parent is not None else None,
            rate_limit_per_user=rate_limit_per_user,
        )
        self.channels[ch.id] = ch
        self._dc._channels[ch.id] = ch
        self._dc._dispatch_guild(self, "CHANNEL_CREATE", ch.payload())
        return ch

    def add_text_channel(
        self,
        name: str,
        *,
        overwrites: Iterable[dict[str, Any]] | None = None,
        topic: str | None = None,
        parent: Channel | int | None = None,
        nsfw: bool = False,
        rate_limit_per_user: int = 0,
    ) -> Channel:
        return self.add_channel(
            name,
            type=0,
            overwrites=overwrites,
            topic=topic,
            parent=parent,
            nsfw=nsfw,
            rate_limit_per_user=rate_limit_per_user,
        )

    def add_announcement_channel(self, name: str, **kwargs: Any) -> Channel:
        return self.add_channel(name, type=5, **kwargs)

    def add_forum_channel(
        self, name: str, *, tags: Iterable[str] = (), require_tag: bool = False, **kwargs: Any
    ) -> Channel:
        """A forum (type 15): only posts, each a thread with a first message (POST /channels/{id}/threads)."""
        ch = self.add_channel(name, type=15, **kwargs)
        ch.available_tags = [
            {"id": str(self._dc._snowflakes.next()), "name": tag, "moderated": False, "emoji_id": None,
             "emoji_name": None}
            for tag in tags
        ]
        ch.flags = REQUIRE_TAG if require_tag else 0
        if ch.available_tags or ch.flags:
            ch._changed()
        return ch

    def add_thread(
        self,
        parent: Channel | int,
        name: str,
        *,
        private: bool = False,
        owner: Member | User | int | None = None,
        archived: bool = False,
        locked: bool = False,
        members: Iterable[Member | User | int] = (),
    ) -> Channel:
        """A thread in a text or announcement channel (or, for a forum, a post without its first message),
        started by ``owner`` (a member; default the server's owner). THREAD_CREATE goes to those who can see it."""
        par = parent if isinstance(parent, Channel) else self.channels[_id(parent)]
        if par.type not in (0, 5, 15, 16):
            raise ValueError("threads live in text, announcement, forum and media channels")
        if private and par.type != 0:
            raise ValueError("private threads live only in text channels")
        kind = 12 if private else (10 if par.type == 5 else 11)
        now = utcnow()
        owner_id = _id(owner) if owner is not None else self.owner_id
        th = Channel(
            id=self._dc._snowflakes.next(),
            type=kind,
            name=name,
            guild=self,
            parent_id=par.id,
            owner_id=owner_id,
            archived=archived,
            locked=locked,
            archive_timestamp=now,
            created_at=now,
            thread_members={owner_id, *(_id(x) for x in members)},
        )
        self.channels[th.id] = th
        self._dc._channels[th.id] = th
        self._dispatch_thread_create(th)
        return th

    def _dispatch_thread_create(self, th: Channel) -> None:
        # Archived threads are not synced to clients; private ones only to those who may see them.
        if th.archived or not self.permissions_for(self.bot_member, th) & Permissions.VIEW_CHANNEL:
            return
        data = th.payload()
        data["newly_created"] = True
        self._dc._dispatch_guild(self, "THREAD_CREATE", data)

    def active_threads(self, viewer: Member | None = None) -> list[Channel]:
        who = viewer or self.bot_member
        return [
            c for c in self.channels.values()
            if c.is_thread and not c.archived and not c.deleted
            and self.permissions_for(who, c) & Permissions.VIEW_CHANNEL
        ]

    def add_voice_channel(self, name: str, **kwargs: Any) -> Channel:
        return self.add_channel(name, type=2, **kwargs)

    def add_category(self, name: str, **kwargs: Any) -> Channel:
        return self.add_channel(name, type=4, **kwargs)

    def delete_channel(self, channel: Channel | int) -> None:
        cid = _id(channel)
        ch = self.channels.pop(cid)
        ch.deleted = True
        if ch.is_thread:
            self._dc._dispatch_guild(
                self, "THREAD_DELETE",
                {"id": str(ch.id), "guild_id": str(self.id), "parent_id": str(ch.parent_id), "type": ch.type},
            )
            return
        self._dc._dispatch_guild(self, "CHANNEL_DELETE", ch.payload())
        for th in [c for c in self.channels.values() if c.is_thread and c.parent_id == cid]:
            self.channels.pop(th.id)  # a channel's threads go with it (no THREAD_DELETE of their own)
            th.deleted = True

    def add_member(
        self,
        name_or_user: str | User | Member,
        *,
        roles: Sequence[Role | int] = (),
        nick: str | None = None,
        dms_closed: bool | None = None,
        bot: bool = False,
        global_name: str | None = None,
        locale: str | None = None,
        pending: bool = False,
    ) -> Member:
        """Add a member; pass a name to create a new user, or a User/Member to reuse one."""
        if isinstance(name_or_user, Member):
            user = name_or_user.user
        elif isinstance(name_or_user, User):
            user = name_or_user
        else:
            user = self._dc.add_user(name_or_user, bot=bot, global_name=global_name)
        if dms_closed is not None:
            user.dms_closed = dms_closed
        if locale is not None:
            user.locale = locale
        if user.id in self.members:
            raise ValueError(f"{user.username} is already a member of {self.name}")
        member = Member(
            guild=self,
            user=user,
            nick=nick,
            role_ids=[_id(r) for r in roles if _id(r) != self.id],
            pending=pending,
        )
        self.members[user.id] = member
        data = member.payload()
        data["guild_id"] = str(self.id)
        self._dc._dispatch_guild(self, "GUILD_MEMBER_ADD", data, member_event_for=member.id)
        return member

    def remove_member(self, member: Member | int) -> None:
        mid = _id(member)
        m = self.members.pop(mid)
        self._dc._dispatch_guild(
            self,
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(self.id), "user": m.user.payload()},
            member_event_for=mid,
        )

    def edit(self, *, name: str | None = None, preferred_locale: str | None = None) -> Guild:
        if name is not None:
            self.name = name
        if preferred_locale is not None:
            self.preferred_locale = preferred_locale
        self._dc._dispatch_guild(self, "GUILD_UPDATE", self.payload(gateway=False))
        return self

    # ----- payloads
    def payload(self, *, gateway: bool = False, members: Iterable[Member] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
            "hub_type": None,
            "latest_onboarding_question_id": None,
        }
        if gateway:
            member_list = list(self.members.values()) if members is None else list(members)
            data.update(
                joined_at=iso(self.joined_at),
                large=len(self.members) >= 250,
                unavailable=False,
                member_count=len(self.members),
                voice_states=[],
                members=[m.payload() for m in member_list],
                channels=[c.payload() for c in self.channels.values() if not c.is_thread],
                threads=[self._gateway_thread(t) for t in self.active_threads()],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=list(self.scheduled_events.values()),
                soundboard_sounds=[],
                embedded_activities=[],
                activity_instances=[],
                lazy=True,
                application_command_counts={},
            )
        return data

    def created_at(self) -> dt.datetime:
        return snowflake_time(self.id)

    def _gateway_thread(self, th: Channel) -> dict[str, Any]:
        data = th.payload()
        if self.bot_member.id in th.thread_members:
            data["member"] = {"join_timestamp": iso(th.created_at or utcnow()), "flags": 1}
        return data


@dataclass(eq=False)
class StoredAttachment:
    """A file: one the bot uploaded, or one a test made with ``dc.attachment()`` for a command option."""

    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    url: str = ""
    ephemeral: bool = False
    title: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def payload(self) -> dict[str, Any]:
        ctype = self.content_type or mimetypes.guess_type(self.filename)[0]
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": ctype,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.title is not None:
            data["title"] = self.title
        if self.ephemeral:
            data["ephemeral"] = True
        return data


@dataclass(eq=False)
class Message:
    """A message as the loopback stores it (bot messages, interaction responses, simulated user messages)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    tts: bool = False
    type: int = 0
    created_at: dt.datetime = field(default_factory=utcnow)
    edited_at: dt.datetime | None = None
    deleted: bool = False
    pings: set[str] = field(default_factory=set)
    mention_user_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    poll: dict[str, Any] | None = None
    sticker_ids: list[int] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions (before each edit)
    pinned: bool = False

    def __repr__(self) -> str:
        flags = []
        if self.ephemeral:
            flags.append("ephemeral")
        if self.edited:
            flags.append("edited")
        if self.deleted:
            flags.append("deleted")
        extra = f" {' '.join(flags)}" if flags else ""
        return (
            f"<Message id={self.id} channel={self.channel_id} author={self.author.username!r}"
            f" content={self.content[:60]!r} embeds={len(self.embeds)} pings={sorted(self.pings)}{extra}>"
        )

    @property
    def edited(self) -> bool:
        return self.edited_at is not None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    @property
    def loading(self) -> bool:
        return bool(self.flags & 128)

    @property
    def text(self) -> str:
        """Content plus embed text (titles, descriptions, fields, footers), for loose assertions."""
        parts = [self.content]
        for e in self.embeds:
            parts += [str(e.get("title") or ""), str(e.get("description") or "")]
            for f in e.get("fields") or []:
                parts += [str(f.get("name") or ""), str(f.get("value") or "")]
            parts.append(str((e.get("footer") or {}).get("text") or ""))
            parts.append(str((e.get("author") or {}).get("name") or ""))
        return "\n".join(p for p in parts if p)

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        return find_component(self.components, custom_id)

    def custom_ids(self) -> list[str]:
        out: list[str] = []

        def walk(items: Iterable[dict[str, Any]]) -> None:
            for c in items:
                if c.get("custom_id"):
                    out.append(c["custom_id"])
                walk(c.get("components") or [])
                if isinstance(c.get("accessory"), dict):
                    walk([c["accessory"]])
                if isinstance(c.get("component"), dict):
                    walk([c["component"]])

        walk(self.components)
        return out

    def snapshot(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": [dict(e) for e in self.embeds],
            "components": list(self.components),
            "flags": self.flags,
            "attachments": [a.filename for a in self.attachments],
        }

    def payload(
        self, *, author_member: dict[str, Any] | None = None, with_nonce: bool = False
    ) -> dict[str, Any]:
        """The message object. Discord does not store nonces: only the create response and MESSAGE_CREATE
        carry one (``with_nonce=True``)."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.payload(),
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "mentions": [],
            "mention_roles": [str(r) for r in self.mention_role_ids],
            "mention_everyone": self.mention_everyone,
            "pinned": self.pinned,
            "tts": self.tts,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at),
            "flags": self.flags,
            "components": self.components,
        }
        if with_nonce and self.nonce is not None:
            data["nonce"] = self.nonce
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.poll is not None:
            data["poll"] = self.poll
        if author_member is not None:
            data["member"] = author_member
        return data


def find_component(components: Iterable[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for c in components:
        if c.get("custom_id") == custom_id:
            return c
        for key in ("components",):
            found = find_component(c.get(key) or [], custom_id)
            if found is not None:
                return found
        for key in ("accessory", "component"):
            if isinstance(c.get(key), dict):
                found = find_component([c[key]], custom_id)
                if found is not None:
                    return found
    return None


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int | None = None
    response_json: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    files: list[StoredAttachment] = field(default_factory=list)
    route: str | None = None  # template, e.g. "/channels/{channel_id}/messages"
    at: dt.datetime = field(default_factory=utcnow)
    started: float | None = None  # dc.now() when the request arrived
    finished: float | None = None  # dc.now() when the answer was sent (None: still in flight)

    @property
    def error_code(self) -> int | None:
        if isinstance(self.response_json, dict) and self.status is not None and self.status >= 400:
            return self.response_json.get("code")
        return None
