"""Leases: one holder at a time for work that must happen once per store (countdown dispatch).

A lease has an owner and an expiry; the holder renews it well before it expires. A process that
dies stops renewing, and another one takes the lease over once it has expired. Taking and renewing
are single transactions, so two processes that try at the same moment cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from db.store import Store

DISPATCHER = "countdown-dispatcher"


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    owner: str
    expires_at: dt.datetime


async def acquire(store: Store, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta, *,
                  take_from: str | None = None) -> bool:
    """Take the lease (free, expired, already ours, or held by `take_from`, a holder known to be dead) or renew
    it. True when `owner` holds it now."""
    async with store.transaction(catalog=False) as conn:
        cur = await conn.execute(
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "owner = excluded.owner, expires_at = excluded.expires_at "
            "WHERE leases.owner = excluded.owner OR leases.expires_at <= ? OR leases.owner = ?",
            (name, owner, _iso(now + ttl), _iso(now), take_from))
        return bool(cur.rowcount)


async def release(store: Store, name: str, owner: str) -> None:
    """Give the lease up (a clean shutdown): a peer can take it at once."""
    async with store.transaction(catalog=False) as conn:
        await conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


async def current(store: Store, name: str) -> Lease | None:
    row = await store.fetchone("SELECT name, owner, expires_at FROM leases WHERE name = ?", (name,))
    return Lease(row["name"], row["owner"], dt.datetime.fromisoformat(row["expires_at"])) if row else None


PACER = "pacer.next"  # meta: the wall-clock second (epoch) of the next free request slot of the bot token


async def claim_slots(store: Store, count: int, interval: float, now: float) -> float:
    """Take the next `count` request slots of the bot's shared budget (one every `interval` seconds, across
    every process on this store). Returns when the first one starts (epoch seconds, wall clock)."""
    async with store.transaction(catalog=False) as conn:
        async with conn.execute("SELECT value FROM meta WHERE key = ?", (PACER,)) as cur:
            row = await cur.fetchone()
        start = max(float(row[0]) if row else 0.0, now)
        await conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                           "value = excluded.value", (PACER, repr(start + count * interval)))
    return start
