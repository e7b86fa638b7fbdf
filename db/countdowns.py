"""Subscriptions and deliveries: the durable half of exactly-once countdown posts.

A delivery goes pending -> claimed (with the nonce of the message that carries it) -> sent (with the
message id). A crash after claiming leaves it claimed: the scheduler sends it again with the same
nonce, and Discord (enforce_nonce) returns the message it already made instead of a second one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from db import models
from db.store import Store

MAX_ATTEMPTS = 5


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    guild_id: int
    kind: str
    channel_id: int | None
    user_id: int | None
    title_id: int
    title_slug: str
    title_name: str
    region: str
    medium: str
    milestones: str
    role_id: int | None
    created_by: int
    paused_reason: str | None
    next_milestone: str | None = None
    next_due: dt.datetime | None = None
    channel_type: int = 0  # Discord's channel type: 0 text, 5 announcement, 10-12 a thread, 15 forum, 16 media
    post_id: int | None = None  # a forum countdown's own post (a thread), once its first post made it

    @property
    def next_key(self) -> DeliveryKey | None:
        return DeliveryKey.parse(self.next_milestone) if self.next_milestone else None

    @property
    def forum(self) -> bool:
        return self.kind == "channel" and self.channel_type in FORUM_TYPES

    @property
    def destination(self) -> tuple[str, int]:
        """Where its posts go: ('channel', id), a forum countdown's own post ('post', subscription id: one post
        per title, never shared) or ('dm', user id). Posts to one destination are batched and ordered."""
        if self.kind != "channel":
            return ("dm", self.user_id or 0)
        return ("post", self.id) if self.forum else ("channel", self.channel_id or 0)

    @property
    def posts_in(self) -> int | None:
        """The channel (or thread) its messages are in: a forum countdown's post, else its channel."""
        return self.post_id if self.forum else self.channel_id


FORUM_TYPES = frozenset({15, 16})  # forum and media channels: posts, no messages of their own
THREAD_TYPES = frozenset({10, 11, 12})


LATE_OFFLINE = 1  # the bot was not running when it was due
LATE_OUTAGE = 2  # the server was unavailable (a Discord outage) when it was due


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """What a delivery announces: a milestone of the release value it was planned for ('7d' of
    '2027-03-14'), or the notice of a move (a release_moves id). Stored as '7d@2027-03-14' / 'moved:12'."""

    label: str = ""
    planned_for: str = ""
    move_id: int | None = None

    @classmethod
    def parse(cls, text: str) -> DeliveryKey:
        if text.startswith("moved:"):
            return cls(move_id=int(text.split(":", 1)[1]))
        label, _, planned_for = text.partition("@")
        return cls(label=label, planned_for=planned_for)

    @classmethod
    def move(cls, move_id: int) -> DeliveryKey:
        return cls(move_id=move_id)

    @property
    def is_move(self) -> bool:
        return self.move_id is not None

    def __str__(self) -> str:
        if self.move_id is not None:
            return f"moved:{self.move_id}"
        return f"{self.label}@{self.planned_for}" if self.planned_for else self.label


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription: Subscription
    release_id: int
    key: DeliveryKey
    due_at: dt.datetime
    state: str
    batch: str | None
    attempts: int
    message_id: int | None
    late: int
    first_attempt_at: dt.datetime | None = None


_SUB_SQL = (
    "SELECT s.*, t.slug AS title_slug, coalesce(o.name, t.name) AS title_name, "
    "(SELECT d.milestone FROM deliveries d WHERE d.subscription_id = s.id AND d.state IN ('pending', 'claimed') "
    " ORDER BY d.due_at LIMIT 1) AS next_milestone, "
    "(SELECT min(d.due_at) FROM deliveries d WHERE d.subscription_id = s.id AND d.state IN ('pending', 'claimed')) "
    " AS next_due "
    "FROM subscriptions s JOIN titles t ON t.id = s.title_id "
    "LEFT JOIN title_overrides o ON o.title_id = t.id AND o.guild_id = s.guild_id "
)


def _sub(row: Any) -> Subscription:
    return Subscription(
        id=row["id"], guild_id=row["guild_id"], kind=row["kind"], channel_id=row["channel_id"],
        user_id=row["user_id"], title_id=row["title_id"], title_slug=row["title_slug"],
        title_name=row["title_name"], region=row["region"], medium=row["medium"], milestones=row["milestones"],
        role_id=row["role_id"], created_by=row["created_by"], paused_reason=row["paused_reason"],
        next_milestone=row["next_milestone"], next_due=parse(row["next_due"]) if row["next_due"] else None,
        channel_type=row["channel_type"], post_id=row["post_id"])


async def subscriptions(store: Store, guild_id: int, *, kind: str = "channel", user_id: int | None = None,
                        ) -> list[Subscription]:
    sql = _SUB_SQL + "WHERE s.guild_id = ? AND s.kind = ?"
    params: list[Any] = [guild_id, kind]
    if user_id is not None:
        sql += " AND s.user_id = ?"
        params.append(user_id)
    return [_sub(r) for r in await store.fetchall(sql + " ORDER BY s.id", tuple(params))]


async def subscription(store: Store, guild_id: int, subscription_id: int) -> Subscription | None:
    row = await store.fetchone(_SUB_SQL + "WHERE s.guild_id = ? AND s.id = ?", (guild_id, subscription_id))
    return _sub(row) if row else None


async def subscriptions_for(store: Store, title_id: int, guild_id: int | None = None) -> list[Subscription]:
    sql = _SUB_SQL + "WHERE s.title_id = ?"
    params: list[Any] = [title_id]
    if guild_id is not None:
        sql += " AND s.guild_id = ?"
        params.append(guild_id)
    return [_sub(r) for r in await store.fetchall(sql, tuple(params))]


async def subscriptions_in_channel(store: Store, channel_id: int) -> list[Subscription]:
    return [_sub(r) for r in await store.fetchall(_SUB_SQL + "WHERE s.channel_id = ?", (channel_id,))]


async def subscriptions_with_post(store: Store, post_id: int) -> list[Subscription]:
    return [_sub(r) for r in await store.fetchall(_SUB_SQL + "WHERE s.post_id = ?", (post_id,))]


async def post_of(store: Store, subscription_id: int) -> int | None:
    """A forum countdown's post as the store has it now (another pass or process may have made it)."""
    row = await store.fetchone("SELECT post_id FROM subscriptions WHERE id = ?", (subscription_id,))
    return row["post_id"] if row else None


async def forget_post(store: Store, subscription_id: int, post_id: int) -> None:
    """The post was deleted: the countdown's next post (after a resume) makes a new one."""
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.execute("UPDATE subscriptions SET post_id = NULL WHERE id = ? AND post_id = ?",
                           (subscription_id, post_id))


async def subscriptions_with_role(store: Store, role_id: int) -> list[Subscription]:
    return [_sub(r) for r in await store.fetchall(_SUB_SQL + "WHERE s.role_id = ?", (role_id,))]


async def subscriptions_in_guild(store: Store, guild_id: int) -> list[Subscription]:
    return [_sub(r) for r in await store.fetchall(_SUB_SQL + "WHERE s.guild_id = ?", (guild_id,))]


PlannedRow = tuple[DeliveryKey, dt.datetime]  # (what, due instant)


async def _insert_plan(conn: Any, subscription_id: int, release_id: int, planned: Sequence[PlannedRow],
                       now: dt.datetime) -> None:
    """Future milestones become pending; those already past are recorded as skipped (never posted)."""
    for key, due in planned:
        state = "pending" if due > now else "skipped"
        await conn.execute(
            "INSERT INTO deliveries (subscription_id, release_id, milestone, due_at, state, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscription_id, release_id, milestone) DO UPDATE SET "
            "due_at = excluded.due_at, state = excluded.state, updated_at = excluded.updated_at "
            "WHERE deliveries.state IN ('pending', 'cancelled', 'skipped')",
            (subscription_id, release_id, str(key), iso(due), state, iso(now)))


async def create_subscription(store: Store, *, guild_id: int, kind: str, channel_id: int | None,
                              user_id: int | None, title: models.Title, release: models.Release, milestones: str,
                              role_id: int | None, created_by: int, planned: Sequence[PlannedRow],
                              now: dt.datetime, channel_type: int = 0) -> int:
    async with store.transaction(catalog=False, notify=True) as conn:
        cur = await conn.execute(
            "INSERT INTO subscriptions (guild_id, kind, channel_id, user_id, title_id, region, medium, milestones, "
            "role_id, created_by, created_at, channel_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, kind, channel_id, user_id, title.id, release.region, release.medium, milestones, role_id,
             created_by, iso(now), channel_type))
        subscription_id = int(cur.lastrowid)
        await _insert_plan(conn, subscription_id, release.id, planned, now)
        await conn.execute(
            "INSERT INTO audit_log (guild_id, actor_id, at, action, title_slug, subject, new) VALUES "
            "(?, ?, ?, ?, ?, ?, ?)", (guild_id, created_by, iso(now), f"subscribe-{kind}", title.slug,
                                      f"<#{channel_id}>" if channel_id else f"<@{user_id}>", milestones))
    return subscription_id


async def remove_subscription(store: Store, guild_id: int, subscription_id: int, actor_id: int,
                              now: dt.datetime) -> bool:
    async with store.transaction(catalog=False, notify=True) as conn:
        cur = await conn.execute("DELETE FROM subscriptions WHERE guild_id = ? AND id = ?",
                                 (guild_id, subscription_id))
        if cur.rowcount:
            await conn.execute("INSERT INTO audit_log (guild_id, actor_id, at, action, subject) VALUES "
                               "(?, ?, ?, 'unsubscribe', ?)", (guild_id, actor_id, iso(now), str(subscription_id)))
        return bool(cur.rowcount)


async def pause(store: Store, subscription_ids: Iterable[int], reason: str, now: dt.datetime) -> list[int]:
    """Pause the subscriptions (not already paused); returns the ones newly paused."""
    paused = []
    async with store.transaction(catalog=False) as conn:
        for sid in subscription_ids:
            cur = await conn.execute("UPDATE subscriptions SET paused_reason = ?, paused_at = ? "
                                     "WHERE id = ? AND paused_reason IS NULL", (reason, iso(now), sid))
            if cur.rowcount:
                paused.append(sid)
    return paused


async def resume(store: Store, subscription_id: int, now: dt.datetime) -> None:
    async with store.transaction(catalog=False, notify=True) as conn:
        await conn.execute("UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL WHERE id = ?",
                           (subscription_id,))
        # Failed deliveries get another chance; the catch-up rule still posts only the latest one. Those that
        # were attempted keep their nonce and first attempt: if that is long ago, the channel's history is
        # checked for the earlier post before anything is sent again.
        await conn.execute("UPDATE deliveries SET state = CASE WHEN batch IS NULL THEN 'pending' ELSE 'claimed' END, "
                           "attempts = 0, retry_at = NULL WHERE subscription_id = ? AND state = 'failed' "
                           "AND message_id IS NULL", (subscription_id,))


async def replan(store: Store, sub: Subscription, release_id: int, planned: Sequence[PlannedRow],
                 now: dt.datetime, notice: DeliveryKey | None) -> None:
    """The release moved (or changed row): pending posts are recomputed; one 'moved' notice is due now."""
    async with store.transaction(catalog=False) as conn:
        await conn.execute("UPDATE deliveries SET state = 'cancelled', updated_at = ? WHERE subscription_id = ? "
                           "AND state = 'pending'", (iso(now), sub.id))
        await _insert_plan(conn, sub.id, release_id, planned, now)
        if notice:
            await conn.execute(
                "INSERT INTO deliveries (subscription_id, release_id, milestone, due_at, state, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
                (sub.id, release_id, str(notice), iso(now), iso(now)))


# -- the dispatcher's queries -----------------------------------------------------------------------------

# The servers of the shards this process dispatches (:shard_count 0: every server).
_IN_SHARDS = ("(:shard_count = 0 OR ((s.guild_id >> 22) % :shard_count) IN "
              "(SELECT value FROM json_each(:shard_ids)))")
# Runnable: pending and due, or claimed with its retry due. Two queries, not one with an OR: each then walks
# the (state, due_at) index in order and stops at the limit, instead of sorting every due row of a big wave.
_RUNNABLE_COMMON = ("s.paused_reason IS NULL "
                    "AND NOT (s.kind = 'channel' AND s.guild_id IN (SELECT value FROM json_each(:held))) "
                    f"AND d.id NOT IN (SELECT value FROM json_each(:busy)) AND {_IN_SHARDS}")
_RUNNABLE_STATES = ("d.state = 'pending' AND d.due_at <= :now",
                    "d.state = 'claimed' AND ifnull(d.retry_at, '') <= :now")


def _shard_params(shards: tuple[int, Iterable[int]]) -> dict[str, Any]:
    count, ids = shards
    return {"shard_count": int(count), "shard_ids": _json_ids(ids)}


def _json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


async def next_due(store: Store, *, held_guilds: Iterable[int] = (),
                   shards: tuple[int, Iterable[int]] = (0, ())) -> dt.datetime | None:
    """The earliest instant anything could be sent (uses the (state, due_at) index). Channel posts of
    `held_guilds` (servers in a Discord outage) wait, so they do not count; `shards` (count, ids): only the
    servers of those shards (count 0: every server)."""
    held = _json_ids(held_guilds)
    # Each half walks the (state, due_at, id) index in order and stops at its first row (a min() over a join
    # is not always planned that way).
    common = ("s.paused_reason IS NULL AND NOT (s.kind = 'channel' AND s.guild_id IN "
              f"(SELECT value FROM json_each(:held))) AND {_IN_SHARDS}")
    row = await store.fetchone(
        "SELECT min(t) FROM ("
        "SELECT * FROM (SELECT d.due_at AS t FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
        f"WHERE d.state = 'pending' AND {common} ORDER BY d.due_at LIMIT 1) AS pending "
        "UNION ALL "
        "SELECT min(ifnull(d.retry_at, d.due_at)) FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
        f"WHERE d.state = 'claimed' AND {common}"
        ") AS due", {"held": held, **_shard_params(shards)})
    return parse(row[0]) if row and row[0] else None


async def runnable(store: Store, now: dt.datetime, limit: int = 500, *, held_guilds: Iterable[int] = (),
                   busy: Iterable[int] = (), shards: tuple[int, Iterable[int]] = (0, ())) -> list[Delivery]:
    """Deliveries due by `now`, soonest first: pending ones, and claimed ones whose retry is due. Channel
    posts of `held_guilds` wait for the server to come back; `busy` ids are being sent right now."""
    params = {"now": iso(now), "limit": limit, "held": _json_ids(held_guilds), "busy": _json_ids(busy),
              **_shard_params(shards)}
    rows: list[Any] = []
    for state in _RUNNABLE_STATES:
        rows += await store.fetchall(
            f"SELECT d.*, d.id AS d_id, {_SUB_COLUMNS} FROM deliveries d "
            "JOIN subscriptions s ON s.id = d.subscription_id JOIN titles t ON t.id = s.title_id "
            "LEFT JOIN title_overrides o ON o.title_id = t.id AND o.guild_id = s.guild_id "
            f"WHERE {state} AND {_RUNNABLE_COMMON} ORDER BY d.due_at, d.id LIMIT :limit", params)
    rows = sorted(rows, key=lambda r: (r["due_at"], r["d_id"]))[:limit]
    out = []
    for r in rows:
        sub = Subscription(
            id=r["subscription_id"], guild_id=r["s_guild"], kind=r["s_kind"], channel_id=r["s_channel"],
            user_id=r["s_user"], title_id=r["s_title"], title_slug=r["title_slug"], title_name=r["title_name"],
            region=r["s_region"], medium=r["s_medium"], milestones=r["s_milestones"], role_id=r["s_role"],
            created_by=r["s_created_by"], paused_reason=None, channel_type=r["s_channel_type"],
            post_id=r["s_post"])
        out.append(Delivery(id=r["d_id"], subscription=sub, release_id=r["release_id"],
                            key=DeliveryKey.parse(r["milestone"]), due_at=parse(r["due_at"]), state=r["state"],
                            batch=r["batch"], attempts=r["attempts"], message_id=r["message_id"], late=r["late"],
                            first_attempt_at=parse(r["first_attempt_at"]) if r["first_attempt_at"] else None))
    return out


_SUB_COLUMNS = (
    "s.guild_id AS s_guild, s.kind AS s_kind, s.channel_id AS s_channel, s.user_id AS s_user, "
    "s.title_id AS s_title, s.region AS s_region, s.medium AS s_medium, s.milestones AS s_milestones, "
    "s.role_id AS s_role, s.created_by AS s_created_by, s.channel_type AS s_channel_type, s.post_id AS s_post, "
    "t.slug AS title_slug, coalesce(o.name, t.name) AS title_name"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """One message about to be sent: its nonce (also its marker), the deliveries it carries, and how late
    each one is (0 on time, LATE_OFFLINE, LATE_OUTAGE)."""
    nonce: str
    ids: tuple[int, ...]
    late: dict[int, int]


async def skip(store: Store, ids: Sequence[int], now: dt.datetime, note: str | None = None) -> None:
    """Never posted: an older milestone missed during downtime (only the latest is posted)."""
    if not ids:
        return
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany("UPDATE deliveries SET state = 'skipped', note = ?, updated_at = ? WHERE id = ? "
                               "AND state = 'pending'", [(note, iso(now), i) for i in ids])


async def claim(store: Store, claims: Sequence[Claim], now: dt.datetime) -> set[int]:
    """Claim each message's deliveries right before it is sent, in one transaction: the nonce is stored
    with them and the instant it is first used. Returns the ids claimed (a row that changed meanwhile,
    cancelled by a move or sent by a peer, is left alone)."""
    claimed: set[int] = set()
    async with store.transaction(catalog=False, serial=False) as conn:
        for item in claims:
            by_late: dict[int, list[int]] = defaultdict(list)  # one statement per lateness (nearly always one)
            for delivery_id in item.ids:
                by_late[item.late.get(delivery_id, 0)].append(delivery_id)
            for late, ids in by_late.items():
                async with conn.execute(
                    "UPDATE deliveries SET state = 'claimed', batch = ?, late = ?, retry_at = NULL, updated_at = ?, "
                    "first_attempt_at = coalesce(first_attempt_at, ?) "
                    "WHERE id IN (SELECT value FROM json_each(?)) AND (state = 'pending' OR "
                    "(state = 'claimed' AND batch = ?)) RETURNING id",
                    (item.nonce, late, iso(now), iso(now), _json_ids(ids), item.nonce)) as cur:
                    claimed.update(row[0] for row in await cur.fetchall())
    return claimed


async def restart_window(store: Store, ids: Sequence[int], now: dt.datetime) -> None:
    """The channel's history shows the earlier attempt made no post: the nonce's window starts again."""
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany("UPDATE deliveries SET first_attempt_at = ?, updated_at = ? WHERE id = ? "
                               "AND state = 'claimed'", [(iso(now), iso(now), i) for i in ids])


async def mark_sent(store: Store, ids: Sequence[int], message_id: int | None, now: dt.datetime,
                    note: str | None = None, *, post: tuple[int, int] | None = None) -> None:
    """Recorded as sent. `post` (subscription id, thread id): the message made a forum countdown's post,
    recorded with it, so no later attempt can take the post for missing and answer in it again."""
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany(
            "UPDATE deliveries SET state = 'sent', message_id = ?, error = NULL, retry_at = NULL, note = ?, "
            "updated_at = ? WHERE id = ? AND state IN ('claimed', 'pending')",
            [(message_id, note, iso(now), i) for i in ids])
        if post is not None:
            await conn.execute("UPDATE subscriptions SET post_id = ? WHERE id = ?", (post[1], post[0]))


async def mark_uncertain(store: Store, ids: Sequence[int], note: str, now: dt.datetime) -> None:
    """It may have gone out and cannot be checked: recorded, never posted again."""
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany("UPDATE deliveries SET state = 'uncertain', note = ?, retry_at = NULL, "
                               "updated_at = ? WHERE id = ? AND state = 'claimed'",
                               [(note[:500], iso(now), i) for i in ids])


async def mark_failed(store: Store, ids: Sequence[int], error: str, now: dt.datetime, *,
                      count_attempt: bool = True) -> None:
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany(
            "UPDATE deliveries SET state = 'failed', attempts = attempts + ?, error = ?, retry_at = NULL, "
            "updated_at = ? WHERE id = ? AND state IN ('pending', 'claimed')",
            [(int(count_attempt), error[:500], iso(now), i) for i in ids])


async def mark_retry(store: Store, ids: Sequence[int], error: str, retry_at: dt.datetime | None,
                     now: dt.datetime) -> None:
    """Count an attempt; the batch keeps its nonce. retry_at None: give up (failed)."""
    if retry_at is None:
        await mark_failed(store, ids, error, now)
        return
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany("UPDATE deliveries SET attempts = attempts + 1, retry_at = ?, error = ?, "
                               "updated_at = ? WHERE id = ? AND state = 'claimed'",
                               [(iso(retry_at), error[:500], iso(now), i) for i in ids])


async def back_off(store: Store, ids: Sequence[int], error: str, until: dt.datetime, now: dt.datetime) -> None:
    """Try again at `until`: claimed rows count an attempt and keep their nonce (mark_retry); rows that failed
    before their claim (nothing was sent) are due again then, not at once (which would be a busy loop)."""
    await mark_retry(store, ids, error, until, now)
    async with store.transaction(catalog=False, serial=False) as conn:
        await conn.executemany("UPDATE deliveries SET due_at = ?, error = ?, updated_at = ? "
                               "WHERE id = ? AND state = 'pending' AND due_at < ?",
                               [(iso(until), error[:500], iso(now), i, iso(until)) for i in ids])


async def release_claims(store: Store, ids: Sequence[int], now: dt.datetime) -> None:
    """Put claimed rows back to pending (their subscription was paused before anything was sent)."""
    async with store.transaction(catalog=False) as conn:
        await conn.executemany("UPDATE deliveries SET state = 'pending', batch = NULL, first_attempt_at = NULL, "
                               "retry_at = NULL, updated_at = ? WHERE id = ? AND message_id IS NULL "
                               "AND state = 'claimed'", [(iso(now), i) for i in ids])


# -- members whose DMs are closed ---------------------------------------------------------------------------


async def block_dms(store: Store, user_id: int, until: dt.datetime, reason: str) -> None:
    async with store.transaction(catalog=False) as conn:
        await conn.execute("INSERT INTO dm_blocks (user_id, until, reason) VALUES (?, ?, ?) ON CONFLICT (user_id) "
                           "DO UPDATE SET until = excluded.until, reason = excluded.reason",
                           (user_id, iso(until), reason))


async def dm_block(store: Store, user_id: int, now: dt.datetime) -> str | None:
    """Why DMs to this member are not tried now, or None."""
    row = await store.fetchone("SELECT until, reason FROM dm_blocks WHERE user_id = ? AND until > ?",
                               (user_id, iso(now)))
    return f"{row['reason']} (not tried again before {row['until']})" if row else None


# -- release moves ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    id: int
    release_id: int
    guild_id: int | None
    title_id: int
    region: str
    medium: str
    old: models.ReleaseValue
    new: models.ReleaseValue


def move_value(date: str | None, time: str | None, tz: str | None) -> models.ReleaseValue:
    return models.ReleaseValue(date=dt.date.fromisoformat(date) if date else None,
                               precision="day" if date else "unknown",
                               time=dt.time.fromisoformat(time) if time else None, timezone=tz)


MOVES_SEEN = "scheduler.moves_seen"


async def unseen_moves(store: Store, cursor: str = MOVES_SEEN) -> list[Move]:
    """The moves after this dispatcher's cursor. A shard's new cursor starts where the one-process
    dispatcher's had got to (so going from one process to shards replays nothing)."""
    seen = int(await store.get_meta(cursor) or await store.get_meta(MOVES_SEEN) or 0)
    rows = await store.fetchall(
        "SELECT m.*, r.title_id, r.region, r.medium FROM release_moves m JOIN releases r ON r.id = m.release_id "
        "WHERE m.id > ? ORDER BY m.id", (seen,))
    return [Move(r["id"], r["release_id"], r["guild_id"], r["title_id"], r["region"], r["medium"],
                 move_value(r["old_date"], r["old_time"], r["old_tz"]),
                 move_value(r["new_date"], r["new_time"], r["new_tz"])) for r in rows]


async def moved_from(store: Store, move_id: int) -> models.ReleaseValue | None:
    """The value a release had before the given move."""
    row = await store.fetchone("SELECT old_date, old_time, old_tz FROM release_moves WHERE id = ?", (move_id,))
    return move_value(row["old_date"], row["old_time"], row["old_tz"]) if row else None


async def mark_moves_seen(store: Store, move_id: int, cursor: str = MOVES_SEEN) -> None:
    await store.set_meta(cursor, str(move_id))


# -- what became of each post ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery's fate, for /reminders history and for tests."""
    id: int
    key: DeliveryKey
    due_at: dt.datetime
    state: str  # pending, claimed, sent, skipped, failed, cancelled, uncertain
    message_id: int | None
    late: int
    attempts: int
    batch: str | None
    error: str | None
    note: str | None
    updated_at: dt.datetime | None = None  # when its state last changed (sent: when it went out)
    retry_at: dt.datetime | None = None


async def deliveries_of(store: Store, guild_id: int, subscription_id: int) -> list[DeliveryRecord]:
    rows = await store.fetchall(
        "SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
        "WHERE s.guild_id = ? AND s.id = ? ORDER BY d.due_at, d.id", (guild_id, subscription_id))
    return [DeliveryRecord(r["id"], DeliveryKey.parse(r["milestone"]), parse(r["due_at"]), r["state"],
                           r["message_id"], r["late"], r["attempts"], r["batch"], r["error"], r["note"],
                           parse(r["updated_at"]) if r["updated_at"] else None,
                           parse(r["retry_at"]) if r["retry_at"] else None)
            for r in rows]
