"""``LoopbackDiscord``: a Discord-compatible REST + gateway server on 127.0.0.1 for end-to-end tests."""

# The public API takes `timeout=` arguments on purpose (tests call dc.wait_*(timeout=...)).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import mimetypes
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ._http import API_PREFIX, HttpMixin, RequestContext
from ._messages import MessagesMixin
from ._users import CommandUnavailable, GuildUnavailable, UsersMixin
from .gateway import GatewayServer, GatewaySession, Identify, shard_for
from .interactions import (
    InteractionEndpoints,
    InteractionResult,
    InteractionState,
    PayloadBuilder,
)
from .models import Channel, Guild, Member, Message, RecordedRequest, StoredAttachment, User, _id
from .permissions import Permissions
from .ratelimit import RateLimiter
from .snowflake import SnowflakeGenerator
from .spec import SpecViolation, load_spec

__all__ = [
    "API_PREFIX",
    "CommandUnavailable",
    "Fault",
    "GuildUnavailable",
    "LoopbackDiscord",
    "RequestContext",
]

_log = logging.getLogger("playground.loopback")

_SENTINEL_SPEC = object()


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
    scope: str = "user"  # X-RateLimit-Scope of an injected 429

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


class LoopbackDiscord(HttpMixin, MessagesMixin, UsersMixin):
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
        rtt: float = 0.0,
    ) -> None:
        self._snowflakes = SnowflakeGenerator()
        self.host = host
        self.port: int | None = None
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.rate_limits = rate_limits
        self.deadline_enforced = deadline_enforced
        # Discord's behaviour, as knobs (see the README)
        self._clock_offset = 0.0  # dc.now() = time.monotonic() + this; dc.advance() moves it
        self.rtt = rtt  # seconds per REST round trip (Discord is ~0.06 s away; 0 keeps tests fast)
        self.nonce_window_seconds = 120.0  # "the past few minutes" (undocumented)
        self.invalid_request_limit = 10_000  # 401/403/429 per window, then the IP is banned
        self.invalid_request_window = 600.0
        self.ban_seconds = 3600.0
        self.ban_count = 0
        self._invalid_at: deque[float] = deque()
        self._banned_until: float | None = None
        self.allowed_privileged_intents = (1 << 1) | (1 << 8) | (1 << 15)
        # sharding: GET /gateway/bot's "shards" and "max_concurrency"; fewer shards than required: 4011
        self.recommended_shards = 1
        self.max_concurrency = 1
        self.required_shards = 1
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

    # ------------------------------------------------------------------ Discord's clock
    def now(self) -> float:
        """Discord's clock: the loopback's monotonic time in seconds (``time.monotonic()`` plus what
        ``advance`` added). Nonce windows, the invalid-request window, bans, interaction tokens and the
        daily command-create budget use it; rate-limit buckets and the 3-second deadline use real time."""
        return time.monotonic() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move Discord's clock forward, as if that long had passed on Discord's side."""
        if seconds < 0:
            raise ValueError("Discord's clock only moves forward")
        self._clock_offset += seconds
        self._notify()

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
        guild._unavailable = False  # a removal ends any outage: the bot is told it left
        self._dispatch_guild(guild, "GUILD_DELETE", {"id": str(guild.id)})
        guild.removed = True

    def start_outage(self, guild: Guild) -> None:
        """Discord loses the guild for a while. Connected sessions get GUILD_DELETE with
        ``unavailable: true`` (discord.py keeps it cached, ``.unavailable``, on_guild_unavailable); no other
        event about it is sent; a new IDENTIFY's READY lists it but sends no GUILD_CREATE (a GUILD_DELETE
        instead); REST calls on it and its channels answer 503; interactions cannot start there. It may
        start before the bot connects."""
        if guild.unavailable or guild.removed:
            return
        guild._unavailable = True
        if guild._announced:
            for session in self.gateway.active_sessions():
                if session.ready_sent and session.wants("GUILD_DELETE", guild_id=guild.id):
                    session.dispatch("GUILD_DELETE", {"id": str(guild.id), "unavailable": True})
        self._notify()

    def end_outage(self, guild: Guild) -> None:
        """The guild is back: GUILD_CREATE with ``unavailable: false`` (discord.py fires on_guild_available)
        carrying its current state, changes made during the outage included."""
        if not guild.unavailable:
            return
        guild._unavailable = False
        if guild._announced and not guild.removed:
            for session in self.gateway.active_sessions():
                if session.ready_sent and session.wants("GUILD_CREATE", guild_id=guild.id):
                    session.dispatch("GUILD_CREATE", self.gateway.guild_create_payload(session, guild))
        self._notify()

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
        if guild.removed or not guild._announced or guild.unavailable:
            return  # an outage sends nothing about the guild; its GUILD_CREATE at the end has it all
        for session in self.gateway.active_sessions():
            if not session.ready_sent:
                continue
            if session.wants(
                event, guild_id=guild.id, self_member_event=member_event_for == self.bot_user_id
            ):
                session.dispatch(event, data)
        self._notify()

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

    def _bot_perms(self, channel: Channel) -> int:
        if channel.guild is None:
            return self._dm_permissions()
        return channel.guild.permissions_for(channel.guild.bot_member, channel)

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
    def sessions(self) -> list[GatewaySession]:
        """The valid gateway sessions (connected or waiting for a RESUME), oldest first. Two processes on
        one token have two, and both get every event of their shard."""
        return self.gateway.active_sessions()

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def identifies(self) -> list[Identify]:
        """Every IDENTIFY that passed the token, intents and shard checks, oldest first:
        ``(at, shard_id, num_shards, session)`` with ``at`` from ``time.monotonic()``; ``shard_id`` and
        ``num_shards`` None for an IDENTIFY without ``shard``; ``session`` None when it was refused (op 9)
        for breaking the identify rate limit."""
        return list(self.gateway.identifies)

    @property
    def identify_violations(self) -> int:
        """IDENTIFYs refused with op 9 because their rate-limit key (``shard_id % max_concurrency``)
        had already started a session in the last 5 seconds."""
        return self.gateway.identify_violations

    def shard_of(self, guild: Guild | int, num_shards: int | None = None) -> int:
        """The shard that gets ``guild``'s events: ``(guild_id >> 22) % num_shards``. Without
        ``num_shards``, the one the live sharded sessions use (``recommended_shards`` if none is sharded);
        ``ValueError`` if they use several."""
        if num_shards is None:
            counts = {s.shard[1] for s in self.gateway.active_sessions() if s.shard is not None}
            if len(counts) > 1:
                raise ValueError(f"sessions use different shard counts {sorted(counts)}: pass num_shards=")
            num_shards = counts.pop() if counts else self.recommended_shards
        if num_shards < 1:
            raise ValueError("num_shards must be 1 or more")
        return shard_for(_id(guild), num_shards)

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

    def peak_concurrency(self, method: str | None = None, path_contains: str | None = None) -> int:
        """The most requests (matching like ``requests_to``) that were in flight at the same moment,
        from each request's ``started`` and ``finished`` (still in flight: until now)."""
        edges: list[tuple[float, int]] = []
        for r in self.requests_to(method, path_contains):
            if r.started is None:
                continue
            edges.append((r.started, 1))
            edges.append((r.finished if r.finished is not None else math.inf, -1))
        edges.sort()  # at the same instant an answer (-1) sorts before an arrival (+1): not overlapping
        peak = current = 0
        for _, step in edges:
            current += step
            peak = max(peak, current)
        return peak

    # ------------------------------------------------------------------ invalid request limit
    def invalid_requests(self) -> int:
        """401, 403 and 429 answers (except 429s with ``X-RateLimit-Scope: shared``) in the current
        window (``invalid_request_window`` seconds of ``now()``)."""
        self._prune_invalid()
        return len(self._invalid_at)

    @property
    def banned(self) -> bool:
        """The IP is temporarily banned (every REST call answers Cloudflare's 403 until ``now()`` passes the ban)."""
        return self._banned_until is not None and self.now() < self._banned_until

    def _prune_invalid(self) -> None:
        horizon = self.now() - self.invalid_request_window
        while self._invalid_at and self._invalid_at[0] <= horizon:
            self._invalid_at.popleft()

    def _count_invalid_request(self) -> None:
        self._invalid_at.append(self.now())
        self._prune_invalid()
        if len(self._invalid_at) >= self.invalid_request_limit:
            self._banned_until = self.now() + self.ban_seconds
            self.ban_count += 1
            self._invalid_at.clear()  # the count starts again after the ban
            _log.warning(
                "loopback: %d invalid requests: the IP is banned for %.0f s",
                self.invalid_request_limit,
                self.ban_seconds,
            )

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
        scope: str = "user",
    ) -> Fault:
        """Make REST calls on /channels/{id}/... fail (403/404/500/502/429...).
        ``times=None``: until cleared. ``scope`` is a 429's X-RateLimit-Scope ("shared" ones are not
        invalid requests)."""
        fault = self._make_fault(status, code, times, message, retry_after)
        fault.scope = scope
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
        scope: str = "user",
    ) -> Fault:
        """Make any REST call whose path (without /api/v10) contains ``path_contains`` fail."""
        fault = self._make_fault(status, code, times, message, retry_after)
        fault.scope = scope
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


def _everyone(guild: Guild, permissions: int) -> Any:
    from .models import Role

    return Role(guild=guild, id=guild.id, name="@everyone", permissions=permissions, position=0)
