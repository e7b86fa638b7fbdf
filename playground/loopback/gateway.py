"""The loopback's gateway: HELLO/HEARTBEAT/IDENTIFY/RESUME, READY + GUILD_CREATE, dispatch with sequence
numbers, replay on RESUME, op 7 RECONNECT and op 9 INVALID_SESSION.

As on Discord, a second IDENTIFY for the same shard does not end the first session: every valid session
gets every event of its shard (a session without a connection buffers them for its RESUME). A session
ends when the client closes with 1000 or 1001, or after op 9 with ``d: false``.

Sharding (``developers/events/gateway.mdx`` in discord-api-docs, "Sharding" and "Max Concurrency"): an
IDENTIFY with ``shard: [shard_id, num_shards]`` gets the guilds with ``(guild_id >> 22) % num_shards ==
shard_id`` and their events; events without a guild go to shard 0. A bad pair closes with 4010, too few
shards for ``dc.required_shards`` with 4011. Each rate-limit key (``shard_id % max_concurrency``) starts one
session per 5 seconds; an IDENTIFY beyond that is answered with op 9 INVALID_SESSION (``d: false``) and no
session starts. IDENTIFYs without ``shard`` are recorded but exempt from that limit (the loopback's
leniency, so that tests of two unsharded processes keep their timing).

Frames are plain JSON TEXT frames: discord.py asks for ``compress=zlib-stream`` but only ever
decompresses BINARY frames, so TEXT frames are read as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from .core import LoopbackDiscord
    from .models import Guild

_log = logging.getLogger("playground.loopback.gateway")

# intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

_EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "THREAD_LIST_SYNC": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_SCHEDULED_EVENT_CREATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": GUILD_SCHEDULED_EVENTS,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
}

BUFFER_SIZE = 5000

IDENTIFY_WINDOW = 5.0  # seconds: each rate-limit key starts one session per window ("per 5 seconds")
SESSION_START_WINDOW = 86_400.0  # seconds: 1000 session starts per day (on Discord's clock, dc.now())


def shard_for(guild_id: int, num_shards: int) -> int:
    """Discord's sharding formula: ``shard_id = (guild_id >> 22) % num_shards``."""
    return (guild_id >> 22) % max(num_shards, 1)


class Identify(NamedTuple):
    """One IDENTIFY that passed the token, intents and shard checks. ``at`` is ``time.monotonic()``;
    ``shard_id`` and ``num_shards`` are None when it sent no ``shard``; ``session`` is None when it was
    refused for breaking the identify rate limit."""

    at: float
    shard_id: int | None
    num_shards: int | None
    session: GatewaySession | None


class GatewayConnection:
    """One websocket connection."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self.writer: asyncio.Task[None] | None = None
        self.sent: list[dict[str, Any]] = []
        self.closing = False

    def start(self) -> None:
        self.writer = asyncio.create_task(self._write_loop())

    def send(self, payload: dict[str, Any]) -> None:
        if not self.closing:
            self.queue.put_nowait(payload)

    async def _write_loop(self) -> None:
        try:
            while True:
                payload = await self.queue.get()
                try:
                    if payload is None or self.ws.closed:
                        return
                    await self.ws.send_str(json.dumps(payload, separators=(",", ":")))
                    self.sent.append(payload)
                finally:
                    self.queue.task_done()
        except (ConnectionResetError, RuntimeError, aiohttp.ClientError) as exc:  # peer went away
            _log.debug("gateway writer stopped: %r", exc)

    async def flush(self, wait: float = 2.0) -> None:
        """Wait (at most ``wait`` seconds) until everything queued so far has been written."""
        if self.writer is None or self.writer.done() or self.ws.closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), wait)

    async def close(self, code: int, message: str = "", *, flush: bool = True) -> None:
        if flush:
            await self.flush()
        self.closing = True
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())


class GatewaySession:
    """A gateway session: survives a dropped connection so that RESUME can replay what was missed."""

    def __init__(self, dc: LoopbackDiscord, intents: int, shard: tuple[int, int] | None) -> None:
        self.dc = dc
        self.id = secrets.token_hex(16)
        self.intents = intents
        self.shard = shard
        self.seq = 0
        self.buffer: deque[dict[str, Any]] = deque(maxlen=BUFFER_SIZE)
        self.conn: GatewayConnection | None = None
        self.valid = True
        self.ready_sent = False

    def __repr__(self) -> str:
        state = "connected" if self.conn is not None else "disconnected"
        return f"<GatewaySession {self.id[:8]} shard={self.shard} seq={self.seq} {state}>"

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def covers(self, guild_id: int | None) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0  # DMs and other events without a guild go to the first shard only
        return shard_for(guild_id, count) == shard_id

    def wants(self, event: str, *, guild_id: int | None, self_member_event: bool = False) -> bool:
        if not self.valid:
            return False
        if event.startswith("MESSAGE_"):
            needed = GUILD_MESSAGES if guild_id is not None else DIRECT_MESSAGES
            if event.startswith("MESSAGE_REACTION"):
                needed = GUILD_MESSAGE_REACTIONS if guild_id is not None else DIRECT_MESSAGE_REACTIONS
        else:
            needed = _EVENT_INTENTS.get(event, 0)
        if event == "GUILD_MEMBER_UPDATE" and self_member_event:
            needed = 0  # the bot always hears about its own member
        if needed and not self.intents & needed:
            return False
        return self.covers(guild_id)

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        self.dc._gateway_log.append(payload)
        if self.conn is not None:
            self.conn.send(payload)
        return self.seq


class GatewayServer:
    def __init__(self, dc: LoopbackDiscord) -> None:
        self.dc = dc
        self.connections: set[GatewayConnection] = set()
        self.sessions: dict[str, GatewaySession] = {}
        self.identify_count = 0
        self.resume_count = 0
        self.identifies: list[Identify] = []
        self.identify_violations = 0
        self._session_starts: deque[float] = deque()  # dc.now() of each session start, for session_start_limit
        self.ready_event = asyncio.Event()

    # ------------------------------------------------------------------ helpers
    def active_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.valid]

    def _prune_session_starts(self) -> None:
        horizon = self.dc.now() - SESSION_START_WINDOW
        while self._session_starts and self._session_starts[0] <= horizon:
            self._session_starts.popleft()

    def session_start_limit(self) -> dict[str, int]:
        """The ``session_start_limit`` object of GET /gateway/bot: 1000 session starts a day."""
        self._prune_session_starts()
        total = 1000
        if self._session_starts:
            reset_after = self._session_starts[0] + SESSION_START_WINDOW - self.dc.now()
        else:
            reset_after = SESSION_START_WINDOW
        return {
            "total": total,
            "remaining": max(total - len(self._session_starts), 0),
            "reset_after": max(int(reset_after * 1000), 0),
            "max_concurrency": self.dc.max_concurrency,
        }

    def _identify_allowed(self, shard_id: int, now: float) -> bool:
        """Discord's max_concurrency: one session start per rate-limit key (shard_id % max_concurrency)
        per 5 seconds, so at most max_concurrency starts in any 5 seconds."""
        concurrency = max(int(self.dc.max_concurrency), 1)
        key = shard_id % concurrency
        for rec in reversed(self.identifies):
            if now - rec.at >= IDENTIFY_WINDOW:
                break
            if rec.session is not None and rec.shard_id is not None and rec.shard_id % concurrency == key:
                return False
        return True

    def guild_create_payload(self, session: GatewaySession, guild: Guild) -> dict[str, Any]:
        members = None
        if not session.intents & GUILD_MEMBERS:
            members = [m for m in guild.members.values() if m.id == self.dc.bot_user_id]
        return guild.payload(gateway=True, members=members)

    # ------------------------------------------------------------------ the websocket
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws)
        self.connections.add(conn)
        conn.start()
        conn.send(
            {"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": self.dc.heartbeat_interval_ms}}
        )
        client_close_code: int | None = None  # the code of the client's close frame (None: no frame)
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await conn.close(4002, "Error while decoding payload.", flush=False)
                        break
                    await self._on_payload(conn, payload)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await conn.close(4002, "Error while decoding payload.", flush=False)
                    break
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    client_close_code = msg.data
                    break
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        finally:
            if conn.session is not None and not conn.closing and client_close_code in (1000, 1001):
                conn.session.valid = False  # Discord: a client that closes with 1000/1001 ends its session
            conn.closing = True
            conn.queue.put_nowait(None)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self.connections.discard(conn)
            self.dc._notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        d = payload.get("d")
        self.dc._gateway_received.append(payload)
        if op == 1:
            conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8:
            self._request_members(conn, d or {})
        elif op in (3, 4):
            return
        else:
            await conn.close(4001, "Unknown opcode.", flush=False)

    async def _identify(self, conn: GatewayConnection, d: dict[str, Any]) -> None:
        dc = self.dc
        if conn.session is not None:
            await conn.close(4005, "Already authenticated.", flush=False)
            return
        if d.get("token") != dc.token and d.get("token") != f"Bot {dc.token}":
            await conn.close(4004, "Authentication failed.", flush=False)
            return
        intents = d.get("intents")
        if intents is None:
            await conn.close(4013, "Invalid intent(s).", flush=False)
            return
        intents = int(intents)
        if intents & PRIVILEGED & ~dc.allowed_privileged_intents:
            await conn.close(4014, "Disallowed intent(s).", flush=False)
            return
        shard = d.get("shard")
        shard_t: tuple[int, int] | None = None
        if shard is not None:
            pair = shard if isinstance(shard, list) and len(shard) == 2 else None
            if pair is None or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair):
                await conn.close(4010, "Invalid shard.", flush=False)
                return
            shard_id, num_shards = pair
            if num_shards < 1 or not 0 <= shard_id < num_shards:
                await conn.close(4010, "Invalid shard.", flush=False)
                return
            shard_t = (shard_id, num_shards)
        if (shard_t[1] if shard_t is not None else 1) < dc.required_shards:
            await conn.close(4011, "Sharding required.", flush=False)
            return
        now = time.monotonic()
        if shard_t is not None and not self._identify_allowed(shard_t[0], now):
            # gateway.mdx, "Identifying": "If your app exceeds this limit, Discord will respond with a
            # Invalid Session (opcode 9) event." No session starts; discord.py closes, waits 5 s, retries.
            self.identifies.append(Identify(now, shard_t[0], shard_t[1], None))
            self.identify_violations += 1
            _log.warning("loopback: IDENTIFY of shard %s broke the identify rate limit (op 9)", shard_t)
            conn.send({"op": 9, "s": None, "t": None, "d": False})
            await conn.flush()
            dc._notify()
            return
        self.identify_count += 1
        session = GatewaySession(dc, intents, shard_t)
        self.identifies.append(
            Identify(now, shard_t[0] if shard_t else None, shard_t[1] if shard_t else None, session)
        )
        self._session_starts.append(dc.now())
        # Discord keeps earlier sessions of the same shard: both get every event ("the bot answers twice")
        self.sessions[session.id] = session
        session.conn = conn
        conn.session = session
        guilds = [g for g in dc._guilds.values() if not g.removed and session.covers(g.id)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": dc._bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": dc.gateway_url,
            "application": {"id": str(dc.application_id), "flags": dc.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["loopback"],
            "user_settings": {},
            "auth_session_id_hash": secrets.token_urlsafe(16),
            "_trace": ['["loopback-gateway",{"micros":1}]'],
        }
        if shard_t is not None:
            ready["shard"] = list(shard_t)
        session.dispatch("READY", ready)
        if session.intents & GUILDS:
            for g in guilds:
                if not g.unavailable:
                    session.dispatch("GUILD_CREATE", self.guild_create_payload(session, g))
            for g in guilds:
                if g.unavailable:  # in an outage: no GUILD_CREATE; Discord says so with a GUILD_DELETE
                    session.dispatch("GUILD_DELETE", {"id": str(g.id), "unavailable": True})
        session.ready_sent = True
        await conn.flush()
        self.ready_event.set()
        dc._notify()

    async def _resume(self, conn: GatewayConnection, d: dict[str, Any]) -> None:
        dc = self.dc
        if d.get("token") != dc.token and d.get("token") != f"Bot {dc.token}":
            await conn.close(4004, "Authentication failed.", flush=False)
            return
        session = self.sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        if session is None or not session.valid or not isinstance(seq, int):
            conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        if session.buffer and seq < session.buffer[0]["s"] - 1:
            conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        if session.conn is not None and session.conn is not conn:
            old = session.conn
            session.conn = None
            await old.close(4000, "Session resumed elsewhere.", flush=False)
        self.resume_count += 1
        session.conn = conn
        conn.session = session
        for payload in list(session.buffer):
            if payload["s"] > seq:
                conn.send(payload)
        session.dispatch("RESUMED", {"_trace": ['["loopback-gateway",{"micros":1}]']})
        await conn.flush()
        dc._notify()

    def _request_members(self, conn: GatewayConnection, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            return
        gids = d.get("guild_id")
        gid_list = gids if isinstance(gids, list) else [gids]
        query = d.get("query")
        limit = int(d.get("limit") or 0)
        user_ids = d.get("user_ids")
        if isinstance(user_ids, (int, str)):
            user_ids = [user_ids]
        for gid in gid_list:
            guild = self.dc._guilds.get(int(gid))
            if guild is None or not session.covers(guild.id):
                continue  # Discord answers only for guilds on the session's shard
            members = list(guild.members.values())
            not_found: list[str] = []
            if user_ids:
                wanted = [int(u) for u in user_ids]
                members = [m for m in members if m.id in wanted]
                not_found = [str(u) for u in wanted if u not in guild.members]
            elif query:
                q = str(query).lower()
                members = [
                    m
                    for m in members
                    if m.user.username.lower().startswith(q) or (m.nick or "").lower().startswith(q)
                ]
            if limit:
                members = members[:limit]
            data: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            if user_ids:
                data["not_found"] = not_found
            if d.get("nonce") is not None:
                data["nonce"] = d["nonce"]
            if d.get("presences"):
                data["presences"] = []
            session.dispatch("GUILD_MEMBERS_CHUNK", data)

    # ------------------------------------------------------------------ control
    async def drop(self, *, resume: bool = True) -> None:
        """Close the bot's connection(s). With resume=True the session survives (close code 4000, the
        client RESUMEs); otherwise the session is invalidated (close code 4009, RESUME gets op 9)."""
        for session in self.active_sessions():
            conn = session.conn
            if not resume:
                session.valid = False
            if conn is not None:
                session.conn = None
                await conn.close(4000 if resume else 4009, "Loopback dropped the connection.")

    async def send_op(self, op: int, data: Any) -> None:
        for session in self.active_sessions():
            if session.conn is not None:
                session.conn.send({"op": op, "s": None, "t": None, "d": data})
                await session.conn.flush()

    async def invalidate(self, *, resumable: bool = False) -> None:
        for session in self.active_sessions():
            conn = session.conn
            if not resumable:
                session.valid = False
            if conn is not None:
                conn.send({"op": 9, "s": None, "t": None, "d": resumable})
                await conn.flush()

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.close(1001, "Loopback shutting down.", flush=False)
