"""What the store keeps about TMDB imports: which packs were built from TMDB, and each server's daily use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from db.store import Store


@dataclass(frozen=True, slots=True)
class Link:
    """A pack built from TMDB: `marquee db refresh-tmdb` and the running bot rebuild it from `kind`/`tmdb_id`."""
    pack_id: int
    pack_slug: str
    pack_name: str
    guild_id: int | None
    kind: str
    tmdb_id: int
    franchise_slug: str
    refreshed_at: str
    last_error: str | None


_LINK_SQL = ("SELECT l.*, p.slug AS pack_slug, p.name AS pack_name FROM tmdb_links l "
             "JOIN packs p ON p.id = l.pack_id ")


def _link(row: Any) -> Link:
    return Link(row["pack_id"], row["pack_slug"], row["pack_name"], row["guild_id"], row["kind"], row["tmdb_id"],
                row["franchise_slug"], row["refreshed_at"], row["last_error"])


async def links(store: Store, *, guild_id: int | None = None, every_owner: bool = False) -> list[Link]:
    """The TMDB imports of one owner (None: global), or of every owner (the refresh)."""
    if every_owner:
        rows = await store.fetchall(_LINK_SQL + "ORDER BY l.guild_id IS NOT NULL, l.guild_id, l.pack_id")
    else:
        rows = await store.fetchall(_LINK_SQL + "WHERE ifnull(l.guild_id, 0) = ifnull(?, 0) ORDER BY l.pack_id",
                                    (guild_id,))
    return [_link(r) for r in rows]


async def save_link(conn: Any, *, pack_slug: str, guild_id: int | None, kind: str, tmdb_id: int,
                    franchise_slug: str, actor: str, stamp: str) -> None:
    """Inside the import's own transaction: the pack and its link are written together or not at all."""
    async with conn.execute("SELECT id FROM packs WHERE ifnull(guild_id, 0) = ifnull(?, 0) AND slug = ?",
                            (guild_id, pack_slug)) as cur:
        row = await cur.fetchone()
    await conn.execute(
        "INSERT INTO tmdb_links (pack_id, guild_id, kind, tmdb_id, franchise_slug, created_at, created_by, "
        "refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pack_id) DO UPDATE SET "
        "refreshed_at = excluded.refreshed_at, last_error = NULL", (row["id"], guild_id, kind, tmdb_id,
                                                                    franchise_slug, stamp, actor, stamp))
    if guild_id is not None and actor.startswith("user:"):  # a server's import is in its audit trail
        await conn.execute(
            "INSERT INTO audit_log (guild_id, actor_id, at, action, subject, new) VALUES (?, ?, ?, ?, ?, ?)",
            (guild_id, int(actor.removeprefix("user:")), stamp, "import-tmdb", f"TMDB {kind} {tmdb_id}",
             pack_slug))


async def oldest_refresh(store: Store) -> dt.datetime | None:
    """When the least recently refreshed TMDB import was last rebuilt (None: there are none)."""
    row = await store.fetchone("SELECT min(refreshed_at) AS at FROM tmdb_links")
    return dt.datetime.fromisoformat(row["at"]) if row and row["at"] else None


async def mark_failed(store: Store, pack_id: int, error: str) -> None:
    async with store.transaction(catalog=False) as conn:
        await conn.execute("UPDATE tmdb_links SET last_error = ? WHERE pack_id = ?", (error[:300], pack_id))


async def title_owners(store: Store, guild_id: int | None, slugs: list[str]) -> dict[str, str]:
    """Which pack (by slug) already holds each of these title slugs for this owner."""
    out: dict[str, str] = {}
    for start in range(0, len(slugs), 500):
        chunk = slugs[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = await store.fetchall(
            "SELECT t.slug, p.slug AS pack FROM titles t JOIN packs p ON p.id = t.pack_id "
            f"WHERE ifnull(t.guild_id, 0) = ifnull(?, 0) AND t.slug IN ({marks})", (guild_id, *chunk))
        out.update({r["slug"]: r["pack"] for r in rows})
    return out


async def held_elsewhere(store: Store, table: str, guild_id: int | None, pack_slug: str) -> frozenset[str]:
    """Slugs of franchises or people this owner can see (global, or its own) that another pack (or nobody's
    pack) holds: an import refers to them instead of defining them again, so two imports that share an actor
    share one person, and no import deletes what another still uses."""
    assert table in ("franchises", "people")
    rows = await store.fetchall(
        f"SELECT x.slug FROM {table} x LEFT JOIN packs p ON p.id = x.pack_id "
        "WHERE ifnull(x.guild_id, 0) IN (0, ifnull(?, 0)) AND (p.id IS NULL OR NOT "
        "(ifnull(p.guild_id, 0) = ifnull(?, 0) AND p.slug = ?))", (guild_id, guild_id, pack_slug))
    return frozenset(r["slug"] for r in rows)


async def spend(store: Store, guild_id: int, today: dt.date, cap: int) -> int | None:
    """Count one TMDB request for this server today. Returns the count, or None when the cap is spent."""
    async with store.transaction(catalog=False) as conn:
        await conn.execute(
            "INSERT INTO tmdb_usage (guild_id, day, requests) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
            (guild_id, today.isoformat()))
        async with conn.execute(
                "UPDATE tmdb_usage SET requests = requests + 1 WHERE guild_id = ? AND day = ? AND requests < ? "
                "RETURNING requests", (guild_id, today.isoformat(), cap)) as cur:
            row = await cur.fetchone()
        await conn.execute("DELETE FROM tmdb_usage WHERE day < ?", ((today - dt.timedelta(days=7)).isoformat(),))
    return int(row["requests"]) if row else None


async def used_today(store: Store, guild_id: int, today: dt.date) -> int:
    row = await store.fetchone("SELECT requests FROM tmdb_usage WHERE guild_id = ? AND day = ?",
                               (guild_id, today.isoformat()))
    return int(row["requests"]) if row else 0
