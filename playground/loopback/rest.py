"""REST handlers of the loopback (everything except interactions and their webhooks)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from .models import MESSAGEABLE_TYPES, REQUIRE_TAG, THREAD_ONLY_TYPES, Channel, Guild, Message
from .permissions import Permissions
from .ratelimit import VIA
from .rules import (
    DiscordError,
    Errors,
    invalid_form,
    validate_command,
    validate_command_list,
    validate_message_body,
)
from .snowflake import iso, utcnow

if TYPE_CHECKING:
    from ._http import RequestContext
    from .core import LoopbackDiscord

MAX_FILE_SIZE = 10 * 1024 * 1024
DAILY_COMMAND_CREATES = 200
MAX_SCHEDULED_EVENTS = 100

Result = tuple[int, Any]


def _int(value: str, error: DiscordError) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise error from None


class RestApi:
    def __init__(self, dc: LoopbackDiscord) -> None:
        self.dc = dc
        self._create_windows: dict[int | None, tuple[float, int]] = {}

    # ------------------------------------------------------------------ lookups
    def _guild(self, guild_id: str) -> Guild:
        gid = _int(guild_id, DiscordError(404, 10004, "Unknown Guild"))
        guild = self.dc._guilds.get(gid)
        if guild is None or guild.removed:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    def _channel(self, channel_id: str, *, need: int = Permissions.VIEW_CHANNEL) -> tuple[Channel, int]:
        """A channel the bot can see; returns it with the bot's permissions there."""
        cid = _int(channel_id, DiscordError(404, 10003, "Unknown Channel"))
        ch = self.dc._channels.get(cid)
        if ch is None or ch.deleted:
            raise DiscordError(404, 10003, "Unknown Channel")
        if ch.guild is not None and ch.guild.removed:
            raise DiscordError(403, 50001, "Missing Access")  # the bot is no longer in that guild
        perms = self.dc._bot_perms(ch)
        if not perms & Permissions.VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        if need & ~perms:
            raise DiscordError(403, 50013, "Missing Permissions")
        return ch, perms

    def _message(self, ch: Channel, message_id: str) -> Message:
        mid = _int(message_id, DiscordError(404, 10008, "Unknown Message"))
        msg = self.dc._messages.get(mid)
        if msg is None or msg.channel_id != ch.id or msg.deleted or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def _check_app(self, ctx: RequestContext) -> None:
        if ctx.params.get("application_id") != str(self.dc.application_id):
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )

    # ------------------------------------------------------------------ misc
    async def not_found(self, ctx: RequestContext) -> Result:
        return 404, {"message": "404: Not Found", "code": 0}

    async def get_gateway(self, ctx: RequestContext) -> Result:
        return 200, {"url": self.dc.gateway_url}

    async def get_gateway_bot(self, ctx: RequestContext) -> Result:
        # gateway.mdx, "Get Gateway Bot": the recommended shards and the session start limit
        return 200, {
            "url": self.dc.gateway_url,
            "shards": self.dc.recommended_shards,
            "session_start_limit": self.dc.gateway.session_start_limit(),
        }

    async def get_me(self, ctx: RequestContext) -> Result:
        return 200, self.dc._bot_user_payload()

    async def get_application(self, ctx: RequestContext) -> Result:
        dc = self.dc
        return 200, {
            "id": str(dc.application_id),
            "name": dc._bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": dc.application_flags,
            "owner": dc.owner_user.payload(),
            "team": None,
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "approximate_guild_count": len(dc.guilds),
            "bot": dc._bot_user_payload(),
            "install_params": {
                "scopes": ["bot", "applications.commands"],
                "permissions": str(Permissions.DEFAULT_BOT),
            },
            "integration_types_config": {"0": {}},
        }

    async def get_user(self, ctx: RequestContext) -> Result:
        if ctx.params["user_id"] == "@me":
            return await self.get_me(ctx)
        uid = _int(ctx.params["user_id"], DiscordError(404, 10013, "Unknown User"))
        user = self.dc._users.get(uid)
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return 200, user.payload()

    async def create_dm(self, ctx: RequestContext) -> Result:
        body = ctx.json if isinstance(ctx.json, dict) else {}
        rid = body.get("recipient_id")
        try:
            user = self.dc._users.get(int(rid))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise invalid_form(["recipient_id"], "BASE_TYPE_REQUIRED", "Unknown user")
        if user.id == self.dc.bot_user_id:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        self.dc._check_spec(ctx)
        return 200, self.dc.dm_channel(user).payload()

    async def my_guilds(self, ctx: RequestContext) -> Result:
        return 200, [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": False,
                "permissions": str(g.permissions_for(g.bot_member)),
                "features": g.features,
            }
            for g in self.dc.guilds
        ]

    # ------------------------------------------------------------------ guilds
    def _guild_for_bot(self, ctx: RequestContext) -> Guild:
        return self._guild(ctx.params["guild_id"])

    async def get_guild(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        data = guild.payload()
        if ctx.query.get("with_counts") in ("true", "1", "True"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return 200, data

    async def get_guild_channels(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        return 200, [c.payload() for c in guild.channels.values() if not c.is_thread]  # threads: threads/active

    async def get_guild_roles(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        return 200, [r.payload() for r in guild.roles.values()]

    async def get_member(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        uid = _int(ctx.params["user_id"], DiscordError(404, 10013, "Unknown User"))
        member = guild.members.get(uid)
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return 200, member.payload()

    async def list_members(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        limit = int(ctx.query.get("limit", "1"))
        if not 1 <= limit <= 1000:
            raise invalid_form(["limit"], "NUMBER_TYPE_MAX", "int value should be <= 1000 and >= 1.")
        after = int(ctx.query.get("after", "0"))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return 200, [m.payload() for m in members[:limit]]

    async def search_members(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        q = ctx.query.get("query", "").lower()
        limit = int(ctx.query.get("limit", "1"))
        found = [
            m
            for m in guild.members.values()
            if m.user.username.lower().startswith(q) or (m.nick or "").lower().startswith(q)
        ]
        return 200, [m.payload() for m in found[:limit]]

    # ------------------------------------------------------------------ channels and messages
    async def get_channel(self, ctx: RequestContext) -> Result:
        ch, _ = self._channel(ctx.params["channel_id"])
        return 200, ch.payload()

    async def typing(self, ctx: RequestContext) -> Result:
        self._channel(ctx.params["channel_id"], need=Permissions.VIEW_CHANNEL | Permissions.SEND_MESSAGES)
        return 204, None

    def _check_dm_send(self, ch: Channel) -> None:
        user = ch.recipient
        if user is None:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        shares_guild = any(user.id in g.members for g in self.dc.guilds)
        if user.dms_closed or user.bot or not shares_guild:
            raise DiscordError(403, 50007, "Cannot send messages to this user")

    async def create_message(self, ctx: RequestContext) -> Result:
        dc = self.dc
        ch, perms = self._channel(ctx.params["channel_id"])
        if ch.type not in MESSAGEABLE_TYPES:
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        body = ctx.json if isinstance(ctx.json, dict) else {}
        if ch.type == 1:
            self._check_dm_send(ch)
        elif ch.is_thread:
            self._check_thread_send(ch, perms)
        elif not perms & Permissions.SEND_MESSAGES:
            raise DiscordError(403, 50013, "Missing Permissions")
        validate_message_body(body, partial=False, has_files=bool(ctx.files))
        if ch.type != 1:
            if body.get("embeds") and not perms & Permissions.EMBED_LINKS:
                raise DiscordError(403, 50013, "Missing Permissions")
            if ctx.files and not perms & Permissions.ATTACH_FILES:
                raise DiscordError(403, 50013, "Missing Permissions")
            if body.get("message_reference") and not perms & Permissions.READ_MESSAGE_HISTORY:
                raise DiscordError(403, 50013, "Missing Permissions")
        for f in ctx.files:
            if f.size > MAX_FILE_SIZE:
                raise DiscordError(413, 40005, "Request entity too large")
        ref = body.get("message_reference")
        if ref:
            ref_id = ref.get("message_id")
            target = dc._messages.get(int(ref_id)) if ref_id is not None and str(ref_id).isdigit() else None
            ok = (
                target is not None
                and not target.deleted
                and target.channel_id == int(ref.get("channel_id") or ch.id)
            )
            if not ok:
                if ref.get("fail_if_not_exists", True):
                    raise invalid_form(
                        ["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                    )
                body = {k: v for k, v in body.items() if k != "message_reference"}
        dc._check_spec(ctx)
        nonce = body.get("nonce")
        key = None
        if nonce is not None and body.get("enforce_nonce"):
            key = (ch.id, dc.bot_user_id, str(nonce))
            hit = dc._nonces.get(key)
            if hit is not None and dc.now() - hit[0] <= dc.nonce_window_seconds:
                # within the window: the same message again, or 404 if it was deleted (discord-api-docs #6647)
                if hit[1].deleted:
                    raise DiscordError(404, 10008, "Unknown Message")
                return 200, dc._message_payload(hit[1], with_nonce=True)
        msg = dc._build_message(channel=ch, author=dc._bot_user, body=body, files=ctx.files)
        if ch.type != 1 and body.get("tts") and not perms & Permissions.SEND_TTS_MESSAGES:
            msg.tts = False
        if ch.is_thread and ch.archived:
            ch.set_archived(False)  # "The API will helpfully automatically unarchive a thread when sending"
        dc._store_message(msg)
        if key is not None:
            dc._nonces[key] = (dc.now(), msg)
        return 200, dc._message_payload(msg, with_nonce=True)

    def _check_thread_send(self, th: Channel, perms: int) -> None:
        """Send Messages in Threads (Send Messages means nothing in a thread); a locked thread takes Manage
        Threads, and so does reopening a locked archived one."""
        if not perms & Permissions.SEND_MESSAGES_IN_THREADS:
            raise DiscordError(403, 50013, "Missing Permissions")
        if th.locked and not perms & Permissions.MANAGE_THREADS:
            if th.archived:
                raise DiscordError(400, 50083, "Thread is archived")
            raise DiscordError(403, 160005, "Thread is locked")

    # ------------------------------------------------------------------ threads and forum posts
    async def create_thread(self, ctx: RequestContext) -> Result:
        """POST /channels/{id}/threads: a forum post (a thread and its first message, whose id is the thread's),
        or a thread without a message in a text or announcement channel."""
        dc = self.dc
        ch, perms = self._channel(ctx.params["channel_id"])
        body = ctx.json if isinstance(ctx.json, dict) else {}
        errs = Errors()
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errs.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration", 4320 if ch.type in THREAD_ONLY_TYPES else 1440)
        if duration not in (60, 1440, 4320, 10080):
            errs.add(["auto_archive_duration"], "BASE_TYPE_CHOICES", "Value must be one of (60, 1440, 4320, 10080).")
        if ch.type in THREAD_ONLY_TYPES:
            message = body.get("message")
            if not isinstance(message, dict):
                errs.add(["message"], "BASE_TYPE_REQUIRED", "This field is required")
            if errs:
                raise DiscordError(400, 50035, "Invalid Form Body", errors=errs.tree)
            assert isinstance(message, dict)
            # `nonce` is not among the forum thread message params: Discord ignores it, so creating a post
            # twice makes two posts (nothing here dedupes).
            if not perms & Permissions.SEND_MESSAGES:  # CREATE_PUBLIC_THREADS is ignored in forums
                raise DiscordError(403, 50013, "Missing Permissions")
            if message.get("embeds") and not perms & Permissions.EMBED_LINKS:
                raise DiscordError(403, 50013, "Missing Permissions")
            validate_message_body(message, partial=False, has_files=bool(ctx.files))
            tags = [str(t) for t in body.get("applied_tags") or []]
            known = {t["id"] for t in ch.available_tags}
            if any(t not in known for t in tags) or len(tags) > 5:
                raise invalid_form(["applied_tags"], "BASE_TYPE_CHOICES", "Unknown tag.")
            if ch.flags & REQUIRE_TAG and not tags:
                raise DiscordError(400, 40067, "A tag is required to create a forum post in this channel")
            dc._check_spec(ctx)
            assert ch.guild is not None
            th = self._new_thread(ch, name, 11, duration)
            msg = dc._build_message(channel=th, author=dc._bot_user, body=message, files=ctx.files)
            msg.id = th.id  # the first message of a post shares the thread's id
            th.applied_tags = tags
            ch.last_message_id = th.id
            ch.guild._dispatch_thread_create(th)
            dc._store_message(msg)
            data = th.payload()
            data["message"] = dc._message_payload(msg)
            return 201, data
        if ch.type not in (0, 5):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if errs:
            raise DiscordError(400, 50035, "Invalid Form Body", errors=errs.tree)
        kind = int(body.get("type") or (10 if ch.type == 5 else 12))
        need = Permissions.CREATE_PRIVATE_THREADS if kind == 12 else Permissions.CREATE_PUBLIC_THREADS
        if not perms & need:
            raise DiscordError(403, 50013, "Missing Permissions")
        dc._check_spec(ctx)
        assert ch.guild is not None
        th = self._new_thread(ch, name, kind, duration)
        ch.guild._dispatch_thread_create(th)
        return 201, th.payload()

    def _new_thread(self, parent: Channel, name: str, kind: int, duration: int) -> Channel:
        guild = parent.guild
        assert guild is not None
        now = utcnow()
        th = Channel(id=self.dc._snowflakes.next(), type=kind, name=name, guild=guild, parent_id=parent.id,
                     owner_id=self.dc.bot_user_id, auto_archive_duration=duration, archive_timestamp=now,
                     created_at=now, thread_members={self.dc.bot_user_id})
        guild.channels[th.id] = th
        self.dc._channels[th.id] = th
        return th

    def _thread_member(self, th: Channel) -> dict[str, Any]:
        return {"id": str(th.id), "user_id": str(self.dc.bot_user_id), "flags": 1,
                "join_timestamp": iso(th.created_at or utcnow())}

    async def active_threads(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        threads = guild.active_threads()
        return 200, {"threads": [t.payload() for t in threads],
                     "members": [self._thread_member(t) for t in threads if self.dc.bot_user_id in t.thread_members]}

    async def archived_public_threads(self, ctx: RequestContext) -> Result:
        ch, _ = self._channel(ctx.params["channel_id"], need=Permissions.VIEW_CHANNEL
                                  | Permissions.READ_MESSAGE_HISTORY)
        if ch.type not in (0, 5, 15, 16):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        limit = int(ctx.query.get("limit", "50"))
        if not 2 <= limit <= 100:
            raise invalid_form(["limit"], "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 2.")
        assert ch.guild is not None
        threads = [t for t in ch.guild.channels.values()
                   if t.is_thread and t.parent_id == ch.id and t.archived and t.type in (10, 11)]
        threads.sort(key=lambda t: t.archive_timestamp or utcnow(), reverse=True)
        before = _parse_time(ctx.query.get("before"))
        if before is not None:
            threads = [t for t in threads if (t.archive_timestamp or utcnow()) < before]
        page = threads[:limit]
        return 200, {"threads": [t.payload() for t in page], "has_more": len(threads) > limit,
                     "members": [self._thread_member(t) for t in page if self.dc.bot_user_id in t.thread_members]}

    async def list_messages(self, ctx: RequestContext) -> Result:
        ch, perms = self._channel(ctx.params["channel_id"])
        if ch.type != 1 and not perms & Permissions.READ_MESSAGE_HISTORY:
            return 200, []
        limit = int(ctx.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise invalid_form(["limit"], "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")
        msgs = [m for m in self.dc._channel_messages.get(ch.id, []) if not m.deleted and not m.ephemeral]
        if "before" in ctx.query:
            b = int(ctx.query["before"])
            msgs = [m for m in msgs if m.id < b]
            msgs = msgs[-limit:]
        elif "after" in ctx.query:
            a = int(ctx.query["after"])
            msgs = [m for m in msgs if m.id > a][:limit]
        elif "around" in ctx.query:
            around = int(ctx.query["around"])
            older = [m for m in msgs if m.id < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in msgs if m.id >= around][: limit - len(older)]
            msgs = older + newer
        else:
            msgs = msgs[-limit:]
        return 200, [self.dc._message_payload(m) for m in reversed(msgs)]

    async def get_message(self, ctx: RequestContext) -> Result:
        ch, perms = self._channel(ctx.params["channel_id"])
        if ch.type != 1 and not perms & Permissions.READ_MESSAGE_HISTORY:
            raise DiscordError(403, 50001, "Missing Access")
        msg = self._message(ch, ctx.params["message_id"])
        return 200, self.dc._message_payload(msg)

    async def edit_message(self, ctx: RequestContext) -> Result:
        dc = self.dc
        ch, perms = self._channel(ctx.params["channel_id"])
        msg = self._message(ch, ctx.params["message_id"])
        body = ctx.json if isinstance(ctx.json, dict) else {}
        if msg.author.id != dc.bot_user_id:
            only_flags = set(body) <= {"flags"}
            if not (only_flags and perms & Permissions.MANAGE_MESSAGES):
                raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        validate_message_body(body, partial=True)
        if ch.type != 1 and body.get("embeds") and not perms & Permissions.EMBED_LINKS:
            raise DiscordError(403, 50013, "Missing Permissions")
        dc._check_spec(ctx)
        dc._edit_message(msg, body, ctx.files)
        return 200, dc._message_payload(msg)

    async def delete_message(self, ctx: RequestContext) -> Result:
        dc = self.dc
        ch, perms = self._channel(ctx.params["channel_id"])
        msg = self._message(ch, ctx.params["message_id"])
        if msg.author.id != dc.bot_user_id and not perms & Permissions.MANAGE_MESSAGES:
            raise DiscordError(403, 50013, "Missing Permissions")
        dc._delete_message(msg)
        return 204, None

    async def add_reaction(self, ctx: RequestContext) -> Result:
        ch, perms = self._channel(ctx.params["channel_id"])
        if ch.type != 1 and not perms & Permissions.READ_MESSAGE_HISTORY:
            raise DiscordError(403, 50013, "Missing Permissions")
        msg = self._message(ch, ctx.params["message_id"])
        emoji = ctx.params["emoji_name"]
        if emoji not in msg.reactions:
            if ch.type != 1 and not perms & Permissions.ADD_REACTIONS:
                raise DiscordError(403, 50013, "Missing Permissions")
            if len(msg.reactions) >= 20:
                raise DiscordError(403, 30010, "Maximum number of reactions reached (20)")
            msg.reactions.append(emoji)
        self.dc._notify()
        return 204, None

    async def remove_reaction(self, ctx: RequestContext) -> Result:
        ch, _ = self._channel(ctx.params["channel_id"])
        msg = self._message(ch, ctx.params["message_id"])
        emoji = ctx.params["emoji_name"]
        if emoji in msg.reactions:
            msg.reactions.remove(emoji)
        return 204, None

    # ------------------------------------------------------------------ application commands
    def _scope(self, ctx: RequestContext) -> int | None:
        self._check_app(ctx)
        if "guild_id" not in ctx.params:
            return None
        gid = _int(ctx.params["guild_id"], DiscordError(404, 10004, "Unknown Guild"))
        guild = self.dc._guilds.get(gid)
        if guild is None or guild.removed:
            raise DiscordError(403, 50001, "Missing Access")
        return gid

    def _stored(
        self, scope: int | None, cmd: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        dc = self.dc
        ctype = cmd.get("type", 1) or 1
        perms = cmd.get("default_member_permissions")
        stored: dict[str, Any] = {
            "id": existing["id"] if existing else str(dc._snowflakes.next()),
            "application_id": str(dc.application_id),
            "version": existing["version"] if existing else str(dc._snowflakes.next()),
            "default_member_permissions": str(int(perms)) if perms is not None else None,
            "type": ctype,
            "name": cmd["name"],
            "description": cmd.get("description") or "",
            "dm_permission": cmd.get("dm_permission", True) if scope is None else None,
            "contexts": _contexts(cmd) if scope is None else None,
            "integration_types": cmd.get("integration_types") or [0],
            "nsfw": bool(cmd.get("nsfw", False)),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
            del stored["dm_permission"]
        for key in ("name_localizations", "description_localizations"):
            if cmd.get(key):
                stored[key] = cmd[key]
        if cmd.get("options"):
            stored["options"] = _clean_options(cmd["options"])
        if existing is not None:
            comparable = {k: v for k, v in stored.items() if k != "version"}
            old = {k: v for k, v in existing.items() if k != "version"}
            if comparable != old:
                stored["version"] = str(dc._snowflakes.next())
        return stored

    def _charge_creates(self, scope: int | None, n: int) -> None:
        if n <= 0:
            return
        now = self.dc.now()
        start, used = self._create_windows.get(scope, (now, 0))
        if now - start >= 86400:
            start, used = now, 0
        if used + n > DAILY_COMMAND_CREATES:
            retry = 86400 - (now - start)
            raise DiscordError(
                429,
                30034,
                "Max number of daily application command creates has been reached (200)",
                headers={"Via": VIA, "Retry-After": str(int(retry) + 1)},
                extra={"retry_after": round(retry, 3), "global": False},
            )
        self._create_windows[scope] = (start, used + n)
        self.dc.command_creates[scope] = self.dc.command_creates.get(scope, 0) + n

    async def list_commands(self, ctx: RequestContext) -> Result:
        scope = self._scope(ctx)
        return 200, self.dc._commands.get(scope, [])

    async def command_permissions(self, ctx: RequestContext) -> Result:
        self._scope(ctx)
        return 200, []

    async def put_commands(self, ctx: RequestContext) -> Result:
        dc = self.dc
        scope = self._scope(ctx)
        body = ctx.json if ctx.json is not None else []
        validate_command_list(body)
        dc._check_spec(ctx)
        current = {(c.get("type", 1), c["name"]): c for c in dc._commands.get(scope, [])}
        new_list = []
        creates = 0
        for cmd in body:
            key = (cmd.get("type", 1) or 1, cmd["name"])
            existing = current.get(key)
            if existing is None:
                creates += 1
            new_list.append(self._stored(scope, cmd, existing))
        self._charge_creates(scope, creates)
        dc._commands[scope] = new_list
        dc._commands_synced.add(scope)
        dc._notify()
        return 200, new_list

    async def post_command(self, ctx: RequestContext) -> Result:
        dc = self.dc
        scope = self._scope(ctx)
        cmd = ctx.json
        errs = Errors()
        validate_command(cmd, errs, [])
        errs.raise_if_any()
        dc._check_spec(ctx)
        cmds = dc._commands.setdefault(scope, [])
        key = (cmd.get("type", 1) or 1, cmd["name"])
        for i, existing in enumerate(cmds):
            if (existing.get("type", 1), existing["name"]) == key:
                cmds[i] = self._stored(scope, cmd, existing)
                dc._commands_synced.add(scope)
                dc._notify()
                return 200, cmds[i]
        if sum(1 for c in cmds if c.get("type", 1) == key[0]) >= (100 if key[0] == 1 else 15):
            raise DiscordError(400, 30032, "Maximum number of application commands reached")
        self._charge_creates(scope, 1)
        stored = self._stored(scope, cmd, None)
        cmds.append(stored)
        dc._commands_synced.add(scope)
        dc._notify()
        return 201, stored

    def _find_cmd(self, scope: int | None, command_id: str) -> tuple[int, dict[str, Any]]:
        for i, c in enumerate(self.dc._commands.get(scope, [])):
            if c["id"] == command_id:
                return i, c
        raise DiscordError(404, 10063, "Unknown application command")

    async def get_command(self, ctx: RequestContext) -> Result:
        scope = self._scope(ctx)
        return 200, self._find_cmd(scope, ctx.params["command_id"])[1]

    async def patch_command(self, ctx: RequestContext) -> Result:
        dc = self.dc
        scope = self._scope(ctx)
        i, existing = self._find_cmd(scope, ctx.params["command_id"])
        body = ctx.json if isinstance(ctx.json, dict) else {}
        merged = {**existing, **body}
        errs = Errors()
        validate_command(merged, errs, [])
        errs.raise_if_any()
        dc._check_spec(ctx)
        dc._commands[scope][i] = self._stored(scope, merged, existing)
        dc._notify()
        return 200, dc._commands[scope][i]

    async def delete_command(self, ctx: RequestContext) -> Result:
        dc = self.dc
        scope = self._scope(ctx)
        i, _ = self._find_cmd(scope, ctx.params["command_id"])
        del dc._commands[scope][i]
        dc._notify()
        return 204, None

    # ------------------------------------------------------------------ scheduled events
    def _event(self, guild: Guild, event_id: str) -> dict[str, Any]:
        ev = guild.scheduled_events.get(
            _int(event_id, DiscordError(404, 10070, "Unknown Guild Scheduled Event"))
        )
        if ev is None:
            raise DiscordError(404, 10070, "Unknown Guild Scheduled Event")
        return ev

    def _check_event_perms(self, guild: Guild, channel: Channel | None, *, creating: bool) -> None:
        perms = guild.permissions_for(guild.bot_member, channel)
        needed = Permissions.MANAGE_EVENTS | (Permissions.CREATE_EVENTS if creating else 0)
        if not perms & needed:
            raise DiscordError(403, 50013, "Missing Permissions")

    def _validate_event(
        self, guild: Guild, ev: dict[str, Any], errs: Errors, *, creating: bool
    ) -> Channel | None:
        name = ev.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errs.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        desc = ev.get("description")
        if desc is not None and (not isinstance(desc, str) or len(desc) > 1000):
            errs.add(["description"], "BASE_TYPE_MAX_LENGTH", "Must be 1000 or fewer in length.")
        if ev.get("privacy_level") != 2:
            errs.add(["privacy_level"], "BASE_TYPE_CHOICES", "Value must be one of {2}.")
        etype = ev.get("entity_type")
        channel: Channel | None = None
        if etype not in (1, 2, 3):
            errs.add(["entity_type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
        start = _parse_time(ev.get("scheduled_start_time"))
        end = _parse_time(ev.get("scheduled_end_time")) if ev.get("scheduled_end_time") is not None else None
        if start is None:
            errs.add(["scheduled_start_time"], "DATE_TIME_TYPE_PARSE", "Could not parse the date/time.")
        elif creating and start < utcnow():
            errs.add(
                ["scheduled_start_time"],
                "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                "Cannot schedule event in the past.",
            )
        if ev.get("scheduled_end_time") is not None and end is None:
            errs.add(["scheduled_end_time"], "DATE_TIME_TYPE_PARSE", "Could not parse the date/time.")
        if start is not None and end is not None and end <= start:
            errs.add(
                ["scheduled_end_time"],
                "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                "The end time must be after the start time.",
            )
        if etype == 3:
            if ev.get("channel_id") is not None:
                errs.add(
                    ["channel_id"],
                    "GUILD_SCHEDULED_EVENT_CHANNEL_INVALID",
                    "Must be null for external events.",
                )
            location = (ev.get("entity_metadata") or {}).get("location")
            if not isinstance(location, str) or not 1 <= len(location) <= 100:
                errs.add(
                    ["entity_metadata", "location"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if end is None:
                errs.add(["scheduled_end_time"], "BASE_TYPE_REQUIRED", "This field is required")
        elif etype in (1, 2):
            cid = ev.get("channel_id")
            channel = guild.channels.get(int(cid)) if cid is not None and str(cid).isdigit() else None
            wanted = 13 if etype == 1 else 2
            if channel is None or channel.type != wanted:
                errs.add(["channel_id"], "GUILD_SCHEDULED_EVENT_CHANNEL_INVALID", "Invalid channel.")
        return channel

    async def list_events(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        with_count = ctx.query.get("with_user_count") in ("true", "1", "True")
        out = []
        for ev in guild.scheduled_events.values():
            e = dict(ev)
            if not with_count:
                e.pop("user_count", None)
            out.append(e)
        return 200, out

    async def get_event(self, ctx: RequestContext) -> Result:
        guild = self._guild_for_bot(ctx)
        return 200, self._event(guild, ctx.params["guild_scheduled_event_id"])

    async def create_event(self, ctx: RequestContext) -> Result:
        dc = self.dc
        guild = self._guild_for_bot(ctx)
        body = ctx.json if isinstance(ctx.json, dict) else {}
        errs = Errors()
        channel = self._validate_event(guild, body, errs, creating=True)
        errs.raise_if_any()
        self._check_event_perms(guild, channel, creating=True)
        dc._check_spec(ctx)
        if len(guild.scheduled_events) >= MAX_SCHEDULED_EVENTS:
            raise DiscordError(400, 30038, "Maximum number of guild scheduled events reached (100)")
        eid = dc._snowflakes.next()
        start = _parse_time(body["scheduled_start_time"])
        end = _parse_time(body.get("scheduled_end_time")) if body.get("scheduled_end_time") else None
        ev: dict[str, Any] = {
            "id": str(eid),
            "guild_id": str(guild.id),
            "channel_id": str(channel.id) if channel is not None else None,
            "creator_id": str(dc.bot_user_id),
            "name": body["name"],
            "description": body.get("description"),
            "scheduled_start_time": iso(start),
            "scheduled_end_time": iso(end),
            "privacy_level": 2,
            "status": 1,
            "entity_type": body["entity_type"],
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata") if body["entity_type"] == 3 else None,
            "creator": dc._bot_user.payload(),
            "user_count": 0,
            "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
            "auto_start": False,
            "sku_ids": [],
            "guild_scheduled_event_exceptions": [],
        }
        guild.scheduled_events[eid] = ev
        dc._dispatch_guild(guild, "GUILD_SCHEDULED_EVENT_CREATE", ev)
        return 200, ev

    async def edit_event(self, ctx: RequestContext) -> Result:
        dc = self.dc
        guild = self._guild_for_bot(ctx)
        ev = self._event(guild, ctx.params["guild_scheduled_event_id"])
        body = ctx.json if isinstance(ctx.json, dict) else {}
        merged = {**ev, **body}
        if body.get("entity_type") == 3 and "channel_id" not in body:
            merged["channel_id"] = None
        errs = Errors()
        creating_like = "scheduled_start_time" in body
        channel = self._validate_event(guild, merged, errs, creating=creating_like)
        status = body.get("status")
        if status is not None:
            allowed = {1: {2, 4}, 2: {3}}.get(ev["status"], set())
            if status != ev["status"] and status not in allowed:
                errs.add(
                    ["status"],
                    "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                    "Invalid status transition.",
                )
        errs.raise_if_any()
        self._check_event_perms(guild, channel, creating=False)
        dc._check_spec(ctx)
        for key in ("name", "description", "privacy_level", "entity_type", "status", "recurrence_rule"):
            if key in body:
                ev[key] = body[key]
        if "scheduled_start_time" in body:
            ev["scheduled_start_time"] = iso(_parse_time(body["scheduled_start_time"]))
        if "scheduled_end_time" in body:
            end = body["scheduled_end_time"]
            ev["scheduled_end_time"] = iso(_parse_time(end)) if end is not None else None
        ev["channel_id"] = str(channel.id) if channel is not None else None
        if ev["entity_type"] == 3:
            ev["entity_metadata"] = merged.get("entity_metadata")
        else:
            ev["entity_metadata"] = None
        dc._dispatch_guild(guild, "GUILD_SCHEDULED_EVENT_UPDATE", ev)
        return 200, ev

    async def delete_event(self, ctx: RequestContext) -> Result:
        dc = self.dc
        guild = self._guild_for_bot(ctx)
        ev = self._event(guild, ctx.params["guild_scheduled_event_id"])
        self._check_event_perms(guild, None, creating=False)
        del guild.scheduled_events[int(ev["id"])]
        dc._dispatch_guild(guild, "GUILD_SCHEDULED_EVENT_DELETE", ev)
        return 204, None


def _contexts(cmd: dict[str, Any]) -> list[int]:
    """Where a global command can be used: its ``contexts``, else derived from ``dm_permission``."""
    contexts = cmd.get("contexts")
    if contexts is not None:
        return list(contexts)
    return [0] if cmd.get("dm_permission") is False else [0, 1, 2]


def _clean_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in options:
        c = {k: v for k, v in o.items() if v is not None}
        if c.get("type") in (1, 2):
            c.pop("required", None)
        if "options" in c:
            c["options"] = _clean_options(c["options"])
        out.append(json.loads(json.dumps(c)))
    return out


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts
