"""Calendar feed tokens: one unguessable token per server, in the URL of its .ics feed."""

from __future__ import annotations

import datetime as dt
import secrets

from db.countdowns import iso
from db.store import Store


async def token(store: Store, guild_id: int) -> str | None:
    row = await store.fetchone("SELECT token FROM calendar_feeds WHERE guild_id = ?", (guild_id,))
    return str(row[0]) if row else None


async def issue(store: Store, guild_id: int, now: dt.datetime, actor_id: int | None = None, *,
                rotate: bool = False) -> str:
    """The server's token, made on first use; `rotate`: a new one (the old URL stops working)."""
    fresh = secrets.token_urlsafe(24)
    async with store.transaction(catalog=False) as conn:
        if rotate:
            await conn.execute("DELETE FROM calendar_feeds WHERE guild_id = ?", (guild_id,))
            await conn.execute("INSERT INTO audit_log (guild_id, actor_id, at, action, subject) VALUES "
                               "(?, ?, ?, 'calendar-reset', 'calendar feed')",
                               (guild_id, actor_id or 0, iso(now)))
        await conn.execute("INSERT INTO calendar_feeds (guild_id, token, created_at, created_by) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (guild_id) DO NOTHING", (guild_id, fresh, iso(now), actor_id))
        async with conn.execute("SELECT token FROM calendar_feeds WHERE guild_id = ?", (guild_id,)) as cur:
            row = await cur.fetchone()
    return str(row[0])
