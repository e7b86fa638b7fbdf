"""``LoopbackDiscord``: a Discord-compatible REST + gateway server on 127.0.0.1 for end-to-end tests."""

# The public API takes `timeout=` arguments on purpose (tests call dc.wait_*(timeout=...)).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import mimetypes
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .gateway import GatewayServer
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    AutocompleteChoices,
    InteractionEndpoints,
    InteractionResult,
    InteractionState,
    PayloadBuilder,
    find_clickable,
    modal_submission,
)
from .mentions import compute_pings
from .models import (
    Channel,
    Guild,
    Member,
    Message,
    RecordedRequest,
    StoredAttachment,
    User,
    _id,
)
from .permissions import Permissions
from .ratelimit import VIA, RateLimiter, bucket_for, rate_limited
from .rules import DiscordError
from .snowflake import SnowflakeGenerator, utcnow
from .spec import SpecViolation, load_spec

_log = logging.getLogger("playground.loopback")

API_PREFIX = "/api/v10"
_SENTINEL_SPEC = object()


class CommandUnavailable(PermissionError, ValueError):
    """The simulated user could not run the command (Discord's client would not offer it): it is hidden by
    ``default_member_permissions``, the member lacks Use Application Commands, or the context is wrong."""


@dataclass
class RequestContext:
    method: str
    path: str  # without the API prefix
    template: str | None
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[StoredAttachment] = field(default_factory=list)
    record: RecordedRequest | None = None
    raw_body: bytes = b""


@dataclass
class Fault:
    status: int
    code: int
    message: str
    times: int | None
    channel_id: int | None = None
    path_contains: str | None = None
    method: str | None = None
    retry_after: float = 1.0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.channel_id is not None and not re.match(rf"^/channels/{self.channel_id}(/|$)", path):
            return False
        return self.path_contains is None or self.path_contains in path


_DEFAULT_FAULT_MESSAGES = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (10003, "Unknown Channel"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
    504: (0, "504: Gateway Timeout"),
}

_ERROR_MESSAGES = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10013: "Unknown User",
    10062: "Unknown interaction",
    50001: "Missing Access",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    40060: "Interaction has already been acknowledged.",
}


class LoopbackDiscord:
    """A Discord-compatible HTTP + gateway server for the unmodified discord.py client.

    Use as ``async with LoopbackDiscord() as dc:``; point discord.py at it with
    ``discord.http.Route.BASE = dc.base_url`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dc.gateway_url)``
    (or call ``dc.patch_discord()``).
    """

    def __init__(
        self,
        spec_path: str | Path | object | None = _SENTINEL_SPEC,
        *,
        bot_name: str = "Marquee",
        heartbeat_interval_ms: int = 41250,
        rate_limits: bool = True,
        deadline_enforced: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self._snowflakes = SnowflakeGenerator()
        self.host = host
        self.port: int | None = None
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.rate_limits = rate_limits
        self.deadline_enforced = deadline_enforced
        self.nonce_window_seconds = 180.0
        self.allowed_privileged_intents = (1 << 1) | (1 << 8) | (1 << 15)
        self.application_flags = (
            (1 << 13) | (1 << 15) | (1 << 19) | (1 << 23)
        )  # *_LIMITED intents + commands badge

        # spec: default location (or $MARQUEE_DISCORD_SPEC); False disables OpenAPI validation
        if spec_path is False:
            self._spec, self.spec_skip_reason = None, "OpenAPI validation disabled (spec_path=False)"
        else:
            self._spec, self.spec_skip_reason = load_spec(
                None if spec_path is _SENTINEL_SPEC else spec_path  # type: ignore[arg-type]
            )
        self.spec_violations: list[SpecViolation] = []

        # identities
        self._users: dict[int, User] = {}
        self.bot_user_id = self._snowflakes.next()
        self.application_id = self._snowflakes.next()
        self._bot_user = User(id=self.bot_user_id, username=bot_name, bot=True)
        self._users[self.bot_user_id] = self._bot_user
        self.owner_user = self.add_user("appowner", global_name="App Owner")
        self.token = (
            base64.urlsafe_b64encode(str(self.bot_user_id).encode()).decode().rstrip("=")
            + "."
            + secrets.token_urlsafe(5)[:6]
            + "."
            + secrets.token_urlsafe(27)[:38]
        )

        # world
        self._guilds: dict[int, Guild] = {}
        self._channels: dict[int, Channel] = {}
        self._dm_channels: dict[int, Channel] = {}  # user id -> DM channel
        self._messages: dict[int, Message] = {}
        self._channel_messages: dict[int, list[Message]] = {}
        self._attachments: dict[int, StoredAttachment] = {}
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._commands_synced: set[int | None] = set()
        self.command_creates: dict[int | None, int] = {}
        self._nonces: dict[tuple[int, int, str], tuple[float, Message]] = {}

        # interactions
        self._interactions: dict[int, InteractionState] = {}
        self._interactions_by_token: dict[str, InteractionState] = {}
        self._modals: dict[str, tuple[InteractionState, dict[str, Any]]] = {}
        self._builder = PayloadBuilder(self)
        self._endpoints = InteractionEndpoints(self)

        # recording and faults
        self.requests: list[RecordedRequest] = []
        self._gateway_log: list[dict[str, Any]] = []
        self._gateway_received: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._slow: list[tuple[str | None, float, bool]] = []
        self.ratelimiter = RateLimiter()

        # plumbing
        self.gateway = GatewayServer(self)
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None

        from .rest import RestApi  # local import: rest imports core for types

        self._rest = RestApi(self)

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> LoopbackDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._app = app
        self._register_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.http_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def spec_enabled(self) -> bool:
        return self._spec is not None

    def patch_discord(self) -> Callable[[], None]:
        """Point discord.py (this process) at the loopback; returns a function that undoes it."""
        import discord
        import yarl

        old_base = discord.http.Route.BASE
        old_gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

        def undo() -> None:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gw

        return undo

    # ------------------------------------------------------------------ change notification
    def _notify(self) -> None:
        ev = self._change
        self._change = asyncio.Event()
        ev.set()

    async def _wait_until(self, check: Callable[[], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"loopback: condition not met within {timeout} s")
            ev = self._change
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), min(remaining, 0.25))

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every loopback change); returns its value."""
        return await self._wait_until(predicate, timeout)

    # ------------------------------------------------------------------ world building
    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(id=self._snowflakes.next(), username=username, bot=bot, global_name=global_name)
        self._users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        everyone_permissions: int = Permissions.DEFAULT_EVERYONE,
        bot_permissions: int = Permissions.DEFAULT_BOT,
        owner: User | None = None,
        preferred_locale: str = "en-US",
        general_channel: bool = False,
    ) -> Guild:
        """Create a guild with @everyone (id == guild id), an owner and the bot (with its managed role).
        When the bot is connected this dispatches GUILD_CREATE (the bot joined)."""
        gid = self._snowflakes.next()
        owner_user = owner or self.add_user(f"{re.sub(r'[^a-z0-9]+', '', name.lower())[:20] or 'guild'}owner")
        guild = Guild(self, gid, name, owner=owner_user, preferred_locale=preferred_locale)
        self._guilds[gid] = guild
        guild.roles[gid] = _everyone(guild, everyone_permissions)
        bot_role = guild.add_role(
            self._bot_user.username,
            permissions=bot_permissions,
            managed=True,
            tags={"bot_id": str(self.bot_user_id)},
        )
        guild.add_member(owner_user)
        guild.add_member(self._bot_user, roles=[bot_role])
        if general_channel:
            guild.add_text_channel("general")
        guild._announced = True
        for session in self.gateway.active_sessions():
            if session.ready_sent and session.covers(gid) and session.intents & 1:
                data = self.gateway.guild_create_payload(session, guild)
                data.pop("unavailable", None)  # a join, not a lazily loaded guild: on_guild_join
                session.dispatch("GUILD_CREATE", data)
        self._notify()
        return guild

    def remove_guild(self, guild: Guild) -> None:
        """The bot is removed from the guild (GUILD_DELETE without ``unavailable``)."""
        self._dispatch_guild(guild, "GUILD_DELETE", {"id": str(guild.id)})
        guild.removed = True

    def attachment(
        self, filename: str, data: bytes | str, content_type: str | None = None
    ) -> StoredAttachment:
        """A file a simulated user uploads for an attachment option (served from the loopback)."""
        if isinstance(data, str):
            data = data.encode()
        att = StoredAttachment(
            id=self._snowflakes.next(),
            filename=filename,
            data=data,
            content_type=content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
            ephemeral=True,
        )
        att.url = f"{self.http_url}/ephemeral-attachments/{self.application_id}/{att.id}/{filename}"
        self._attachments[att.id] = att
        return att

    # ------------------------------------------------------------------ dispatch helpers
    def _dispatch_guild(
        self, guild: Guild, event: str, data: dict[str, Any], *, member_event_for: int | None = None
    ) -> None:
        if guild.removed or not guild._announced:
            return
        for session in self.gateway.active_sessions():
            if not session.ready_sent:
                continue
            if session.wants(
                event, guild_id=guild.id, self_member_event=member_event_for == self.bot_user_id
            ):
                session.dispatch(event, data)
        self._notify()

    def _dispatch_message_event(self, event: str, msg: Message) -> None:
        if msg.ephemeral:
            return
        ch = self._channels.get(msg.channel_id)
        guild = ch.guild if ch is not None else None
        if guild is not None and (guild.removed or not guild._announced):
            return
        for session in self.gateway.active_sessions():
            if not session.ready_sent or not session.wants(event, guild_id=msg.guild_id):
                continue
            if event == "MESSAGE_DELETE":
                data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
                if msg.guild_id:
                    data["guild_id"] = str(msg.guild_id)
            else:
                data = self._message_payload(msg, with_member=True)
                redact = (
                    not session.intents & (1 << 15)
                    and msg.author.id != self.bot_user_id
                    and msg.guild_id is not None
                    and self.bot_user_id not in msg.mention_user_ids
                )
                if redact:
                    data.update(content="", embeds=[], attachments=[], components=[])
                    data.pop("poll", None)
            session.dispatch(event, data)

    def _bot_user_payload(self) -> dict[str, Any]:
        data = self._bot_user.payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bot=True)
        return data

    def _dm_permissions(self) -> int:
        p = Permissions
        return (
            p.VIEW_CHANNEL
            | p.SEND_MESSAGES
            | p.EMBED_LINKS
            | p.ATTACH_FILES
            | p.READ_MESSAGE_HISTORY
            | p.ADD_REACTIONS
            | p.USE_EXTERNAL_EMOJIS
            | p.MENTION_EVERYONE
        )

    # ------------------------------------------------------------------ messages
    def _message_payload(self, msg: Message, *, with_member: bool = False) -> dict[str, Any]:
        member = None
        if with_member and msg.guild_id is not None:
            guild = self._guilds.get(msg.guild_id)
            if guild is not None and msg.author.id in guild.members:
                member = guild.members[msg.author.id].payload(with_user=False)
        data = msg.payload(author_member=member)
        data["mentions"] = [self._users[u].payload() for u in msg.mention_user_ids if u in self._users]
        if msg.message_reference is not None:
            ref = self._messages.get(int(msg.message_reference.get("message_id") or 0))
            data["referenced_message"] = ref.payload() if ref is not None and not ref.deleted else None
        return data

    def _bot_perms(self, channel: Channel) -> int:
        if channel.guild is None:
            return self._dm_permissions()
        return channel.guild.permissions_for(channel.guild.bot_member, channel)

    def _compute_pings(self, channel: Channel, author: User, body: dict[str, Any], msg: Message) -> None:
        guild = channel.guild
        if msg.ephemeral:
            msg.pings, msg.mention_user_ids, msg.mention_role_ids, msg.mention_everyone = set(), [], [], False
            return
        replied_user = None
        if msg.message_reference:
            ref = self._messages.get(int(msg.message_reference.get("message_id") or 0))
            if ref is not None and ref.author.id != author.id:
                replied_user = ref.author.id
        if guild is not None and author.id in guild.members:
            perms = guild.permissions_for(guild.members[author.id], channel)
        else:
            perms = 0
        result = compute_pings(
            msg.content,
            msg.allowed_mentions if "allowed_mentions" in body or msg.allowed_mentions is not None else None,
            replied_user_id=replied_user,
            can_mention_everyone=bool(perms & Permissions.MENTION_EVERYONE),
            role_exists=lambda rid: guild is not None and rid in guild.roles,
            role_mentionable=lambda rid: guild is not None and guild.roles[rid].mentionable,
            user_exists=lambda uid: uid in self._users,
            in_guild=guild is not None,
        )
        msg.pings = result.pings
        msg.mention_user_ids = result.user_ids
        msg.mention_role_ids = result.role_ids
        msg.mention_everyone = result.everyone

    def _attachments_from(
        self,
        channel: Channel,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        keep: Sequence[StoredAttachment],
    ) -> list[StoredAttachment]:
        """Resolve ``attachments`` (kept ones by id, new ones by file index) against uploaded files."""
        by_index = {str(i): f for i, f in enumerate(files)}
        out: list[StoredAttachment] = []
        used: set[int] = set()
        if "attachments" in body and body["attachments"] is not None:
            kept = {str(a.id): a for a in keep}
            for entry in body["attachments"]:
                key = str(entry.get("id"))
                if key in kept:
                    out.append(kept[key])
                elif key in by_index:
                    f = by_index[key]
                    used.add(id(f))
                    if entry.get("filename"):
                        f.filename = entry["filename"]
                    if entry.get("description") is not None:
                        f.description = entry["description"]
                    if entry.get("title") is not None:
                        f.title = entry["title"]
                    out.append(f)
            new = [f for f in files if id(f) not in used]
        else:
            out = list(keep)
            new = list(files)
        out += new
        for f in out:
            if not f.url:
                f.url = f"{self.http_url}/attachments/{channel.id}/{f.id}/{f.filename}"
                self._attachments[f.id] = f
        return out

    def _build_message(
        self,
        *,
        channel: Channel,
        author: User,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        mtype: int = 0,
        interaction: InteractionState | None = None,
        allow_ephemeral: bool = False,
    ) -> Message:
        flags = int(body.get("flags") or 0)
        allowed_flags = 4 | 4096 | 8192 | (1 << 15) | (64 if allow_ephemeral else 0)
        flags &= allowed_flags
        embeds = [_normalize_embed(e) for e in body.get("embeds") or []]
        msg = Message(
            id=self._snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild.id if channel.guild else None,
            author=author,
            content=body.get("content") or "",
            embeds=embeds if not flags & 4 else [],
            components=list(body.get("components") or []),
            flags=flags,
            nonce=body.get("nonce"),
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=_normalize_reference(body.get("message_reference"), channel),
            tts=bool(body.get("tts")),
            type=mtype if not body.get("message_reference") or mtype else 19,
            poll=body.get("poll"),
            sticker_ids=[int(s) for s in body.get("sticker_ids") or []],
        )
        if msg.message_reference is not None and msg.type == 0:
            msg.type = 19
        msg.attachments = self._attachments_from(channel, body, files, [])
        if interaction is not None:
            msg.interaction_id = interaction.id
            msg.webhook_id = self.application_id
            msg.application_id = self.application_id
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": {
                    "0": str(interaction.guild.id) if interaction.guild else "0"
                },
            }
            if interaction.type == APPLICATION_COMMAND:
                meta["name"] = interaction.data.get("name")
                meta["command_type"] = interaction.data.get("type", 1)
            if interaction.source_message is not None:
                meta["interacted_message_id"] = str(interaction.source_message.id)
            msg.interaction_metadata = meta
        self._compute_pings(channel, author, body, msg)
        return msg

    def _store_message(self, msg: Message) -> None:
        self._messages[msg.id] = msg
        self._channel_messages.setdefault(msg.channel_id, []).append(msg)
        ch = self._channels.get(msg.channel_id)
        if ch is not None and not msg.ephemeral:
            ch.last_message_id = msg.id
        self._dispatch_message_event("MESSAGE_CREATE", msg)
        self._notify()

    def _edit_message(
        self,
        msg: Message,
        body: dict[str, Any],
        files: Sequence[StoredAttachment],
        *,
        finalize: bool = False,
    ) -> None:
        msg.history.append(msg.snapshot())
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = [_normalize_embed(e) for e in body["embeds"] or []]
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "flags" in body and body["flags"] is not None:
            new_flags = int(body["flags"])
            keep = msg.flags & (64 | (1 << 15))
            msg.flags = keep | (new_flags & (4 | 4096 | (1 << 15)))
            if msg.flags & 4:
                msg.embeds = []
        if "poll" in body:
            msg.poll = body["poll"]
        ch = self._channels.get(msg.channel_id) or self._dm_channel_by_id(msg.channel_id)
        if ch is not None and ("attachments" in body or files):
            msg.attachments = self._attachments_from(ch, body, files, msg.attachments)
        was_loading = msg.loading
        msg.flags &= ~128
        if finalize or was_loading:
            # a deferred response getting its content behaves like a new message (it notifies)
            if ch is not None:
                self._compute_pings(ch, msg.author, body, msg)
            msg.created_at = utcnow()
        else:
            msg.edited_at = utcnow()
            if ch is not None:
                pings_before = msg.pings
                self._compute_pings(ch, msg.author, body, msg)
                msg.pings = pings_before  # an edit does not notify anyone new
        self._dispatch_message_event("MESSAGE_UPDATE", msg)
        self._notify()

    def _delete_message(self, msg: Message) -> None:
        msg.deleted = True
        self._dispatch_message_event("MESSAGE_DELETE", msg)
        self._notify()

    def _dm_channel_by_id(self, channel_id: int) -> Channel | None:
        for ch in self._dm_channels.values():
            if ch.id == channel_id:
                return ch
        return None

    def dm_channel(self, user: User | Member | int) -> Channel:
        """The DM channel between the bot and ``user`` (made on first use, like POST /users/@me/channels)."""
        uid = _id(user)
        ch = self._dm_channels.get(uid)
        if ch is None:
            u = self._users[uid]
            ch = Channel(id=self._snowflakes.next(), type=1, name=None, recipient=u)
            self._dm_channels[uid] = ch
            self._channels[ch.id] = ch
        return ch

    # ------------------------------------------------------------------ public: observation
    def get_channel(self, channel: Channel | int) -> Channel | None:
        return self._channels.get(_id(channel))

    def message(self, message_id: int) -> Message | None:
        return self._messages.get(int(message_id))

    def messages(
        self,
        channel: Channel | int,
        *,
        include_deleted: bool = True,
        include_interactions: bool = True,
        include_ephemeral: bool = False,
        authors: str = "bot",
    ) -> list[Message]:
        """Messages in a channel, oldest first. By default: those the bot created (channel messages and
        non-ephemeral interaction responses/follow-ups), deleted ones included (``.deleted`` is True).
        ``authors="all"`` also returns simulated user messages."""
        out = []
        for m in self._channel_messages.get(_id(channel), []):
            if authors == "bot" and m.author.id != self.bot_user_id:
                continue
            if not include_deleted and m.deleted:
                continue
            if not include_interactions and m.interaction_id is not None:
                continue
            if not include_ephemeral and m.ephemeral:
                continue
            out.append(m)
        return out

    def dm_messages(self, user: User | Member | int, *, include_deleted: bool = True) -> list[Message]:
        """Messages the bot sent ``user`` by DM."""
        ch = self._dm_channels.get(_id(user))
        if ch is None:
            return []
        return self.messages(ch, include_deleted=include_deleted)

    def commands(self, guild: Guild | int | None = None) -> list[dict[str, Any]]:
        """Registered commands (global, or for a guild) as Discord stores them."""
        scope = None if guild is None else _id(guild)
        return [json.loads(json.dumps(c)) for c in self._commands.get(scope, [])]

    def scheduled_events(self, guild: Guild) -> list[dict[str, Any]]:
        return list(guild.scheduled_events.values())

    @property
    def users(self) -> dict[int, User]:
        return dict(self._users)

    @property
    def guilds(self) -> list[Guild]:
        return [g for g in self._guilds.values() if not g.removed]

    @property
    def bot_user(self) -> User:
        return self._bot_user

    @property
    def connected(self) -> bool:
        return any(s.conn is not None for s in self.gateway.active_sessions())

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def gateway_events(self) -> list[dict[str, Any]]:
        """Every DISPATCH sent (op 0 payloads), in order."""
        return list(self._gateway_log)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Alias of ``gateway_events``."""
        return list(self._gateway_log)

    def requests_to(
        self, method: str | None = None, path_contains: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_contains is None or path_contains in r.path)
        ]

    async def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait until the bot identified and every GUILD_CREATE was written to its socket."""
        await self._wait_until(
            lambda: any(s.ready_sent and s.conn is not None for s in self.gateway.active_sessions()), timeout
        )

    async def wait_until_connected(self, timeout: float = 10.0) -> None:
        await self._wait_until(lambda: self.connected, timeout)

    async def wait_for_commands(
        self, guild: Guild | int | None = None, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        scope = None if guild is None else _id(guild)
        await self._wait_until(lambda: scope in self._commands_synced, timeout)
        return self.commands(guild)

    async def wait_for_messages(
        self, channel: Channel | int, n: int = 1, timeout: float = 5.0, **filters: Any
    ) -> list[Message]:
        """Wait until the channel holds at least ``n`` bot messages (see ``messages()``); returns them all."""
        return await self._wait_until(
            lambda: (lambda ms: ms if len(ms) >= n else None)(self.messages(channel, **filters)), timeout
        )

    async def wait_for_message(
        self,
        channel: Channel | int,
        timeout: float = 5.0,
        *,
        predicate: Callable[[Message], bool] | None = None,
        after: Message | int | None = None,
        **filters: Any,
    ) -> Message:
        """Wait for the first bot message in the channel that matches ``predicate`` (existing ones count),
        optionally only those newer than ``after`` (a Message or a message id)."""
        after_id = _id(after) if after is not None else 0

        def check() -> Message | None:
            for m in self.messages(channel, **filters):
                if m.id > after_id and (predicate is None or predicate(m)):
                    return m
            return None

        return await self._wait_until(check, timeout)

    async def wait_for_dm(
        self,
        user: User | Member | int,
        timeout: float = 5.0,
        *,
        predicate: Callable[[Message], bool] | None = None,
    ) -> Message:
        def check() -> Message | None:
            for m in self.dm_messages(user):
                if predicate is None or predicate(m):
                    return m
            return None

        return await self._wait_until(check, timeout)

    # ------------------------------------------------------------------ public: faults
    def fail_channel(
        self,
        channel: Channel | int,
        status: int = 403,
        code: int | None = None,
        times: int | None = None,
        *,
        message: str | None = None,
        retry_after: float = 1.0,
        method: str | None = None,
    ) -> Fault:
        """Make REST calls on /channels/{id}/... fail (403/404/500/502/429...).
        ``times=None``: until cleared."""
        fault = self._make_fault(status, code, times, message, retry_after)
        fault.channel_id = _id(channel)
        fault.method = method
        self._faults.append(fault)
        return fault

    def fail_route(
        self,
        path_contains: str,
        status: int = 500,
        code: int | None = None,
        times: int | None = None,
        *,
        method: str | None = None,
        message: str | None = None,
        retry_after: float = 1.0,
    ) -> Fault:
        """Make any REST call whose path (without /api/v10) contains ``path_contains`` fail."""
        fault = self._make_fault(status, code, times, message, retry_after)
        fault.path_contains = path_contains
        fault.method = method
        self._faults.append(fault)
        return fault

    def _make_fault(
        self, status: int, code: int | None, times: int | None, message: str | None, retry_after: float
    ) -> Fault:
        dcode, dmsg = _DEFAULT_FAULT_MESSAGES.get(status, (0, f"{status}: Error"))
        if code is None:
            code = dcode
        if message is None:
            message = _ERROR_MESSAGES.get(code, dmsg) if code else dmsg
        return Fault(status=status, code=code, message=message, times=times, retry_after=retry_after)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._slow.clear()

    def set_rate_limit(self, bucket: str, limit: int, per: float) -> None:
        """Change a bucket's size, e.g. ``set_rate_limit("message-create", 5, 1.0)`` (default 5 per 5 s).
        Buckets: message-create, message-edit, message-delete, webhook, webhook-messages."""
        self.ratelimiter.overrides[bucket] = (limit, per)

    def slow(self, route: str | None, seconds: float, *, after: bool = False) -> None:
        """Delay responses of routes whose path contains ``route`` (None: every route). ``after=True``:
        do the work first and hold back only the answer (the client is cut off after Discord acted)."""
        self._slow.append((route, seconds, after))

    def drop_gateway(self, resume: bool = True) -> asyncio.Task[None]:
        """Close the bot's websocket. resume=True: close code 4000, the client RESUMEs and gets what it
        missed replayed. resume=False: the session is invalidated (4009; the RESUME gets op 9, the client
        IDENTIFYs again). Returns a task: ``await`` it or not."""
        return asyncio.ensure_future(self.gateway.drop(resume=resume))

    def reconnect_request(self) -> asyncio.Task[None]:
        """Send op 7 RECONNECT (the client reconnects and resumes). Returns a task: ``await`` it or not."""
        return asyncio.ensure_future(self.gateway.send_op(7, None))

    def invalid_session(self, resumable: bool = False) -> asyncio.Task[None]:
        """Send op 9 INVALID_SESSION (d=resumable). Returns a task: ``await`` it or not."""
        return asyncio.ensure_future(self.gateway.invalidate(resumable=resumable))

    def expire_interaction(self, result: InteractionResult) -> None:
        """Make the interaction's token expire now (as if 15 minutes had passed)."""
        result._state.expired_by_test = True

    # ------------------------------------------------------------------ public: simulated users
    def send_user_message(
        self,
        channel: Channel,
        member: Member | User,
        content: str,
        *,
        reply_to: Message | None = None,
    ) -> Message:
        """A user posts in a channel (MESSAGE_CREATE; content redacted without the message content intent)."""
        user = member.user if isinstance(member, Member) else member
        body: dict[str, Any] = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id)}
        msg = self._build_message(channel=channel, author=user, body=body, files=[])
        self._store_message(msg)
        return msg

    def _invoker(
        self, guild: Guild | None, channel: Channel | None, member: Member | User | int
    ) -> tuple[Guild | None, Channel, User, Member | None]:
        if guild is not None:
            mid = _id(member)
            m = guild.members.get(mid)
            if m is None:
                raise ValueError(f"{member!r} is not a member of {guild.name}")
            if channel is None:
                raise ValueError("a guild interaction needs a channel")
            ch = channel if isinstance(channel, Channel) else self._channels[_id(channel)]
            if ch.deleted or ch.guild is not guild:
                raise ValueError(f"channel {ch.name} is not in {guild.name}")
            if not guild.permissions_for(m, ch) & Permissions.VIEW_CHANNEL:
                raise ValueError(f"{m.name} cannot see #{ch.name}")
            return guild, ch, m.user, m
        user = member.user if isinstance(member, Member) else self._users[_id(member)]
        ch = self.dm_channel(user) if channel is None else channel
        return None, ch, user, None

    def _find_command(self, guild: Guild | None, name: str, ctype: int = 1) -> dict[str, Any]:
        scopes: list[int | None] = [guild.id, None] if guild is not None else [None]
        for scope in scopes:
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        known = [c["name"] for s in scopes for c in self._commands.get(s, []) if c.get("type", 1) == ctype]
        raise ValueError(f"unknown command {name!r} (type {ctype}); registered: {sorted(known)}")

    def _check_command_available(
        self,
        cmd: dict[str, Any],
        guild: Guild | None,
        channel: Channel,
        member: Member | None,
        override: bool,
    ) -> None:
        contexts = cmd.get("contexts")
        if guild is not None:
            if contexts is not None and 0 not in contexts:
                raise CommandUnavailable(f"/{cmd['name']} is not available in servers (contexts={contexts})")
            if not override and member is not None:
                perms = guild.permissions_for(member, channel)
                if not perms & Permissions.USE_APPLICATION_COMMANDS:
                    raise CommandUnavailable(
                        f"{member.name} lacks Use Application Commands in #{channel.name}"
                    )
                dmp = cmd.get("default_member_permissions")
                if dmp is not None and (int(dmp) & perms) != int(dmp):
                    raise CommandUnavailable(
                        f"/{cmd['name']} is hidden from {member.name}: default_member_permissions={dmp} "
                        "(pass permission_override=True to simulate an admin's override)"
                    )
        else:
            dm_ok = cmd.get("dm_permission", True) is not False if contexts is None else 1 in contexts
            if not dm_ok or cmd.get("guild_id"):
                raise CommandUnavailable(f"/{cmd['name']} is not available in DMs")

    def _start_interaction(
        self,
        *,
        itype: int,
        guild: Guild | None,
        channel: Channel,
        user: User,
        member: Member | None,
        data: dict[str, Any],
        source_message: Message | None = None,
        command: dict[str, Any] | None = None,
    ) -> InteractionState:
        session = self.gateway.session_for_guild(guild.id if guild else None)
        if session is None or not session.ready_sent:
            raise RuntimeError("the bot is not connected to the loopback gateway")
        state = InteractionState(
            self,
            itype=itype,
            guild=guild,
            channel=channel,
            user=user,
            member=member,
            data=data,
            source_message=source_message,
            command=command,
        )
        state.payload = self._builder.interaction_payload(state)
        self._interactions[state.id] = state
        self._interactions_by_token[state.token] = state
        state.created = time.monotonic()
        state.deadline = state.created + 3.0
        session.dispatch("INTERACTION_CREATE", state.payload)
        return state

    async def _await_response(
        self, state: InteractionState, timeout: float, followup_timeout: float
    ) -> InteractionResult:
        result = InteractionResult(self, state)
        loop = asyncio.get_running_loop()
        start = loop.time()
        late_grace = 2.0

        def first_done() -> bool:
            if state.acked_type is not None:
                return True
            if any(e.get("where") == "callback" for e in state.errors):
                return True  # the first response was rejected (late, invalid, ...); r stays live
            if self.deadline_enforced and time.monotonic() > state.deadline + late_grace:
                return True
            return False

        try:
            await self._wait_until(first_done, timeout)
        except TimeoutError:
            result.timed_out = True
        if state.acked_type is None:
            result.timed_out = True
            return result
        if state.acked_type in (5, 6) and not state.settled:
            remaining = max(followup_timeout - (loop.time() - start), 0.1)
            try:
                await self._wait_until(lambda: state.settled, remaining)
            except TimeoutError:
                result.timed_out = True
        return result

    async def run_command(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
        permission_override: bool = False,
    ) -> InteractionResult:
        """A member runs ``/command`` (``"group sub"`` paths allowed). Returns after the first callback;
        after a deferral, once the original is edited or a follow-up arrives (or ``followup_timeout``)."""
        g, ch, user, m = self._invoker(guild, channel, member)
        parts = command.split()
        if not parts:
            raise ValueError("empty command")
        cmd = self._find_command(g, parts[0], 1)
        self._check_command_available(cmd, g, ch, m, permission_override)
        data = self._builder.command_data(cmd, parts[1:], dict(options or {}), guild=g, channel=ch, member=m)
        state = self._start_interaction(
            itype=APPLICATION_COMMAND, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def run_context_menu(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        name: str,
        target: Member | User | Message,
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
        permission_override: bool = False,
    ) -> InteractionResult:
        """Run a user (target Member/User) or message (target Message) context-menu command."""
        g, ch, user, m = self._invoker(guild, channel, member)
        ctype = 3 if isinstance(target, Message) else 2
        cmd = self._find_command(g, name, ctype)
        self._check_command_available(cmd, g, ch, m, permission_override)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": str(target.id),
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if isinstance(target, Message):
            data["resolved"] = {"messages": {str(target.id): self._message_payload(target)}}
        else:
            from .interactions import _Resolved

            res = _Resolved()
            self._builder.resolve_user(res, g, ch, target)
            data["resolved"] = res.payload()
        state = self._start_interaction(
            itype=APPLICATION_COMMAND, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def autocomplete(
        self,
        guild: Guild | None,
        channel: Channel | None,
        member: Member | User | int,
        command: str,
        options: dict[str, Any],
        *,
        focused: str,
        timeout: float = 5.0,
    ) -> AutocompleteChoices:
        """The user types into an autocomplete option; returns the bot's choices (a list with .error)."""
        g, ch, user, m = self._invoker(guild, channel, member)
        parts = command.split()
        cmd = self._find_command(g, parts[0], 1)
        self._check_command_available(cmd, g, ch, m, True)
        data = self._builder.command_data(
            cmd, parts[1:], dict(options), guild=g, channel=ch, member=m, focused=focused
        )
        state = self._start_interaction(
            itype=AUTOCOMPLETE, guild=g, channel=ch, user=user, member=m, data=data, command=cmd
        )
        result = await self._await_response(state, timeout, 0.1)
        out = AutocompleteChoices(state.choices or [])
        out.result = result
        return out

    def _component_context(
        self, message: Message, member: Member | User | int | None
    ) -> tuple[Guild | None, Channel, User, Member | None]:
        ch = self._channels.get(message.channel_id) or self._dm_channel_by_id(message.channel_id)
        if ch is None or ch.deleted:
            raise ValueError("the message's channel is gone")
        if message.deleted:
            raise ValueError("the message was deleted")
        if member is None:
            if message.interaction_metadata is not None:
                member = int(message.interaction_metadata["user"]["id"])
            else:
                raise ValueError("pass member= (who clicks)")
        g, ch2, user, m = self._invoker(ch.guild, ch, member)
        if message.ephemeral and message.interaction_metadata is not None:
            if int(message.interaction_metadata["user"]["id"]) != user.id:
                raise ValueError("only the user who ran the command can see this ephemeral message")
        return g, ch2, user, m

    async def click(
        self,
        message: Message,
        custom_id: str,
        *,
        member: Member | User | int | None = None,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Click a button (component type 2) on a message."""
        comp = find_clickable(message, custom_id)
        if comp.get("type") != 2:
            raise ValueError(f"component {custom_id!r} is not a button (type {comp.get('type')})")
        g, ch, user, m = self._component_context(message, member)
        data = {"custom_id": custom_id, "component_type": 2}
        if "id" in comp:
            data["id"] = comp["id"]
        state = self._start_interaction(
            itype=MESSAGE_COMPONENT,
            guild=g,
            channel=ch,
            user=user,
            member=m,
            data=data,
            source_message=message,
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def select(
        self,
        message: Message,
        custom_id: str,
        values: Iterable[Any],
        *,
        member: Member | User | int | None = None,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Pick values in a select menu (string select: option values; user/role/channel selects:
        objects or ids)."""
        comp = find_clickable(message, custom_id)
        ctype = comp.get("type")
        if ctype not in (3, 5, 6, 7, 8):
            raise ValueError(f"component {custom_id!r} is not a select menu")
        g, ch, user, m = self._component_context(message, member)
        vals = list(values)
        mn, mx = comp.get("min_values", 1), comp.get("max_values", 1)
        if not mn <= len(vals) <= mx:
            raise ValueError(f"select {custom_id!r} takes {mn}..{mx} values, got {len(vals)}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if "id" in comp:
            data["id"] = comp["id"]
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options") or []]
            for v in vals:
                if v not in allowed:
                    raise ValueError(f"{v!r} is not an option of {custom_id!r}: {allowed}")
            data["values"] = [str(v) for v in vals]
        else:
            from .interactions import _Resolved

            res = _Resolved()
            ids = []
            for v in vals:
                if ctype == 5 or (ctype == 7 and not (g is not None and _id(v) in g.roles)):
                    ids.append(self._builder.resolve_user(res, g, ch, v))
                elif ctype in (6, 7):
                    ids.append(self._builder.resolve_role(res, g, v))
                else:
                    ids.append(self._builder.resolve_channel(res, g, m, v, {"name": custom_id, **comp}))
            data["values"] = ids
            data["resolved"] = res.payload() or {}
        state = self._start_interaction(
            itype=MESSAGE_COMPONENT,
            guild=g,
            channel=ch,
            user=user,
            member=m,
            data=data,
            source_message=message,
        )
        return await self._await_response(state, timeout, followup_timeout)

    async def submit_modal(
        self,
        result: InteractionResult,
        values: dict[str, Any],
        *,
        timeout: float = 10.0,
        followup_timeout: float = 10.0,
    ) -> InteractionResult:
        """Submit the modal the bot answered ``result`` with (type 9), with {custom_id: value}."""
        modal = result.modal
        if modal is None:
            raise ValueError("that interaction was not answered with a modal")
        prev = result._state
        comps = modal_submission(modal, values)
        data = {"custom_id": modal["custom_id"], "components": comps}
        state = self._start_interaction(
            itype=MODAL_SUBMIT,
            guild=prev.guild,
            channel=prev.channel,
            user=prev.user,
            member=prev.member,
            data=data,
            source_message=prev.source_message,
        )
        return await self._await_response(state, timeout, followup_timeout)

    # ------------------------------------------------------------------ spec
    def _check_spec(self, ctx: RequestContext) -> None:
        """Validate ctx.json against the OpenAPI request schema (after Discord's own rules passed)."""
        if self._spec is None or ctx.json is None or ctx.template is None:
            return
        problems = self._spec.validate(ctx.method, ctx.template, ctx.json)
        if not problems:
            return
        op = self._spec.find_operation(ctx.method, ctx.template)
        loc, message = problems[0]
        self.spec_violations.append(
            SpecViolation(ctx.method, ctx.path, op.operation_id if op else None, message, loc, ctx.json)
        )
        errors: dict[str, Any] = {}
        node = errors
        for part in [p for p in loc.split(".") if p and p != "<body>"]:
            node = node.setdefault(part, {})
        node["_errors"] = [{"code": "OPENAPI_SCHEMA_MISMATCH", "message": message}]
        raise DiscordError(400, 50035, "Invalid Form Body", errors=errors)

    # ------------------------------------------------------------------ HTTP plumbing
    def _register_routes(self, app: web.Application) -> None:
        rest = self._rest
        ep = self._endpoints
        table: list[tuple[str, str, Callable[[RequestContext], Awaitable[tuple[int, Any]]], bool]] = [
            ("GET", "/gateway", rest.get_gateway, False),
            ("GET", "/gateway/bot", rest.get_gateway_bot, True),
            ("GET", "/users/@me", rest.get_me, True),
            ("PATCH", "/users/@me", rest.get_me, True),
            ("GET", "/oauth2/applications/@me", rest.get_application, True),
            ("GET", "/applications/@me", rest.get_application, True),
            ("POST", "/users/@me/channels", rest.create_dm, True),
            ("GET", "/users/{user_id}", rest.get_user, True),
            # commands
            ("GET", "/applications/{application_id}/commands", rest.list_commands, True),
            ("PUT", "/applications/{application_id}/commands", rest.put_commands, True),
            ("POST", "/applications/{application_id}/commands", rest.post_command, True),
            ("GET", "/applications/{application_id}/commands/{command_id}", rest.get_command, True),
            ("PATCH", "/applications/{application_id}/commands/{command_id}", rest.patch_command, True),
            ("DELETE", "/applications/{application_id}/commands/{command_id}", rest.delete_command, True),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
                rest.command_permissions,
                True,
            ),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", rest.list_commands, True),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", rest.put_commands, True),
            ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", rest.post_command, True),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.get_command,
                True,
            ),
            (
                "PATCH",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.patch_command,
                True,
            ),
            (
                "DELETE",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                rest.delete_command,
                True,
            ),
            # channels and messages
            ("GET", "/channels/{channel_id}", rest.get_channel, True),
            ("GET", "/channels/{channel_id}/messages", rest.list_messages, True),
            ("POST", "/channels/{channel_id}/messages", rest.create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", rest.get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", rest.edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", rest.delete_message, True),
            ("POST", "/channels/{channel_id}/typing", rest.typing, True),
            (
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
                rest.add_reaction,
                True,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
                rest.remove_reaction,
                True,
            ),
            # guilds
            ("GET", "/guilds/{guild_id}", rest.get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", rest.get_guild_channels, True),
            ("GET", "/guilds/{guild_id}/roles", rest.get_guild_roles, True),
            ("GET", "/guilds/{guild_id}/members/search", rest.search_members, True),
            ("GET", "/guilds/{guild_id}/members", rest.list_members, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", rest.get_member, True),
            ("GET", "/users/@me/guilds", rest.my_guilds, True),
            # scheduled events
            ("GET", "/guilds/{guild_id}/scheduled-events", rest.list_events, True),
            ("POST", "/guilds/{guild_id}/scheduled-events", rest.create_event, True),
            ("GET", "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}", rest.get_event, True),
            (
                "PATCH",
                "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}",
                rest.edit_event,
                True,
            ),
            (
                "DELETE",
                "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}",
                rest.delete_event,
                True,
            ),
            # interactions and their webhooks (no bot auth: the token is the credential)
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", ep.callback, False),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", ep.execute, False),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.get_message, False),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.edit_message, False),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", ep.delete_message, False),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", ep.get_message, False),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", ep.edit_message, False),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
                ep.delete_message,
                False,
            ),
        ]
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_get(
            "/ephemeral-attachments/{app_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        for method, path, fn, auth in table:
            app.router.add_route(method, API_PREFIX + path, self._wrap(fn, auth, path))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._wrap(self._rest.not_found, False, None))

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        try:
            att = self._attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        if att is None or att.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")

    def _wrap(
        self,
        fn: Callable[[RequestContext], Awaitable[tuple[int, Any]]],
        auth: bool,
        template: str | None,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, fn, auth, template)

        return handler

    async def _read_body(self, request: web.Request, ctx: RequestContext) -> None:
        ctype = request.content_type
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            files_by_index: dict[int, StoredAttachment] = {}
            async for part in reader:
                if part is None:
                    break
                name = getattr(part, "name", None) or ""
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    ctx.json = json.loads(data.decode("utf-8"))
                    continue
                m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                if m is None:
                    continue
                index = int(m.group(1) or 0)
                filename = getattr(part, "filename", None) or f"file{index}"
                content_type = part.headers.get("Content-Type")  # type: ignore[union-attr]
                if not content_type or content_type == "application/octet-stream":
                    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                files_by_index[index] = StoredAttachment(
                    id=self._snowflakes.next(), filename=filename, data=bytes(data), content_type=content_type
                )
            ctx.files = [files_by_index[i] for i in sorted(files_by_index)]
        else:
            raw = await request.read()
            ctx.raw_body = raw
            if raw:
                if ctype != "application/json":
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.")
                try:
                    ctx.json = json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle(
        self,
        request: web.Request,
        fn: Callable[[RequestContext], Awaitable[tuple[int, Any]]],
        auth: bool,
        template: str | None,
    ) -> web.StreamResponse:
        rel = request.path[len(API_PREFIX) :]
        ctx = RequestContext(
            method=request.method,
            path=rel,
            template=template,
            params=dict(request.match_info),
            query=dict(request.query),
            headers=dict(request.headers),
        )
        rec = RecordedRequest(
            method=request.method,
            path=rel,
            query=dict(request.query),
            json=None,
            headers=dict(request.headers),
            route=template,
        )
        ctx.record = rec
        self.requests.append(rec)
        headers: dict[str, str] = {}
        try:
            await self._read_body(request, ctx)
            rec.json = ctx.json
            rec.files = list(ctx.files)
            for route, seconds, after in list(self._slow):
                if not after and (route is None or route in rel):
                    await asyncio.sleep(seconds)
            if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            self._apply_faults(ctx)
            interaction_route = template is not None and (
                template.startswith("/interactions/") or template.startswith("/webhooks/")
            )
            if self.rate_limits and template is not None:
                if not interaction_route:
                    self.ratelimiter.check_global()
                headers.update(self.ratelimiter.check(bucket_for(ctx.method, template), _major(ctx.params)))
            status, body = await fn(ctx)
            for route, seconds, after in list(self._slow):
                if after and (route is None or route in rel):
                    await asyncio.sleep(seconds)
        except DiscordError as err:
            status, body = err.status, err.body()
            headers.update(err.headers)
        except Exception:
            _log.exception("loopback: handler for %s %s crashed", request.method, rel)
            status, body = 500, {"message": "500: Internal Server Error", "code": 0}
        rec.status = status
        rec.response_json = body
        rec.response_headers = dict(headers)
        if status == 204 or body is None:
            return web.Response(status=status if status != 200 else 204, headers=headers)
        return web.Response(
            body=json.dumps(body).encode(), status=status, content_type="application/json", headers=headers
        )

    def _apply_faults(self, ctx: RequestContext) -> None:
        for fault in list(self._faults):
            if not fault.matches(ctx.method, ctx.path):
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            fault.hits += 1
            if fault.status == 429:
                raise rate_limited(fault.retry_after, is_global=False, headers={"Via": VIA})
            err = DiscordError(fault.status, fault.code, fault.message)
            if fault.status >= 500:
                err.headers["Via"] = VIA
            raise err


def _major(params: dict[str, str]) -> str:
    for key in ("channel_id", "guild_id"):
        if key in params:
            return params[key]
    if "webhook_id" in params:
        return params["webhook_id"] + "+" + params.get("webhook_token", "")
    if "interaction_id" in params:
        return params["interaction_id"]
    return ""


def _everyone(guild: Guild, permissions: int) -> Any:
    from .models import Role

    return Role(guild=guild, id=guild.id, name="@everyone", permissions=permissions, position=0)


def _normalize_embed(e: dict[str, Any]) -> dict[str, Any]:
    out = dict(e)
    out.setdefault("type", "rich")
    out.setdefault("content_scan_version", 0)
    return out


def _normalize_reference(ref: dict[str, Any] | None, channel: Channel) -> dict[str, Any] | None:
    if not ref:
        return None
    out = {
        "type": int(ref.get("type") or 0),
        "message_id": str(ref.get("message_id")) if ref.get("message_id") is not None else None,
        "channel_id": str(ref.get("channel_id") or channel.id),
    }
    if channel.guild is not None:
        out["guild_id"] = str(ref.get("guild_id") or channel.guild.id)
    return out
