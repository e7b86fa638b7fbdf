"""What a server's moderators change: settings, titles, releases, credits, offers, packs.

Every method runs in one write transaction and writes its audit rows in that same transaction.
The server always comes from the interaction (the caller), never from member input. Global rows
are never modified: a server's correction is its own row (or an override) that shadows the global
one in that server only. Input is validated by the caller (bot/transformers.py); the constraints
in the schema are the last line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from db import models, packs, queries, validate
from db.store import Store


class EditError(ValueError):
    """The edit cannot be made; the message says why, for the member."""


@dataclass(frozen=True, slots=True)
class ReleaseChange:
    release_id: int
    old: models.ReleaseValue | None
    new: models.ReleaseValue
    moved: bool


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class Editor:
    def __init__(self, store: Store, guild_id: int, actor_id: int, now: dt.datetime) -> None:
        if not guild_id:
            raise EditError("Catalog edits happen in a server.")
        self.store = store
        self.guild_id = guild_id
        self.actor_id = actor_id
        self.now = now
        self.stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")

    @asynccontextmanager
    async def _edit(self) -> AsyncIterator[Any]:
        async with self.store.transaction() as conn:
            yield conn

    async def _audit(self, conn: Any, action: str, title_slug: str | None, *, subject: str | None = None,
                     field: str | None = None, old: object = None, new: object = None) -> None:
        await conn.execute(
            "INSERT INTO audit_log (guild_id, actor_id, at, action, title_slug, subject, field, old, new) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.guild_id, self.actor_id, self.stamp, action, title_slug, subject, field, _text(old), _text(new)))

    @staticmethod
    async def _one(conn: Any, sql: str, params: tuple[Any, ...]) -> Any:
        async with conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _from_tmdb(self, conn: Any, title_id: int) -> bool:
        """Is this title part of a TMDB import (which the refresh rebuilds)?"""
        return await self._one(conn, "SELECT 1 FROM titles t JOIN tmdb_links l ON l.pack_id = t.pack_id "
                               "WHERE t.id = ?", (title_id,)) is not None

    # -- settings -------------------------------------------------------------------------------------

    async def set_settings(self, **changes: Any) -> models.GuildSettings:
        allowed = {"timezone", "region", "alerts_channel_id", "posting_hour", "posting_minute", "events_enabled"}
        if not changes or set(changes) - allowed:
            raise EditError(f"unknown setting: {', '.join(sorted(set(changes) - allowed))}")
        before = await queries.guild_settings(self.store, self.guild_id)
        async with self._edit() as conn:
            await conn.execute("INSERT INTO guild_settings (guild_id) VALUES (?) ON CONFLICT (guild_id) DO NOTHING",
                               (self.guild_id,))
            for name, value in changes.items():
                await conn.execute(f"UPDATE guild_settings SET {name} = ? WHERE guild_id = ?",
                                   (value, self.guild_id))
                await self._audit(conn, "settings", None, field=name, old=getattr(before, name), new=value)
            await conn.execute("UPDATE guild_settings SET updated_at = ?, updated_by = ? WHERE guild_id = ?",
                               (self.stamp, self.actor_id, self.guild_id))
        return await queries.guild_settings(self.store, self.guild_id)

    # -- titles ---------------------------------------------------------------------------------------

    async def _franchise_id(self, conn: Any, franchise: models.Franchise | str | None) -> int | None:
        """An existing franchise, or a new one of this server's named by the text."""
        if franchise is None:
            return None
        if isinstance(franchise, models.Franchise):
            return franchise.id
        slug = validate.slugify(franchise) or "franchise"
        row = await self._one(conn, "SELECT id FROM franchises WHERE ifnull(guild_id, 0) IN (0, ?) AND slug = ? "
                              "ORDER BY guild_id IS NULL LIMIT 1", (self.guild_id, slug))
        if row:
            return int(row["id"])
        cur = await conn.execute("INSERT INTO franchises (guild_id, slug, name) VALUES (?, ?, ?)",
                                 (self.guild_id, slug, franchise))
        await self._audit(conn, "add-franchise", None, subject=franchise, new=slug)
        return int(cur.lastrowid)

    async def _free_slug(self, conn: Any, table: str, name: str) -> str:
        base = validate.slugify(name) or "untitled"
        slug, n = base, 1
        while await self._one(conn, f"SELECT 1 FROM {table} WHERE ifnull(guild_id, 0) IN (0, ?) AND slug = ?",
                              (self.guild_id, slug)):
            n += 1
            slug = f"{base[:validate.SLUG_MAX - 4]}-{n}"
        return slug

    async def add_title(self, *, name: str, kind: str, franchise: models.Franchise | str | None,
                        status: str = "announced", synopsis: str | None = None, aliases: tuple[str, ...] = (),
                        story_order: float | None = None) -> str:
        async with self._edit() as conn:
            franchise_id = await self._franchise_id(conn, franchise or name)
            slug = await self._free_slug(conn, "titles", name)
            cur = await conn.execute(
                "INSERT INTO titles (guild_id, franchise_id, slug, name, kind, status, story_order, synopsis, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.guild_id, franchise_id, slug, name, kind, status, story_order, synopsis, "server"))
            for position, alias in enumerate(aliases):
                await conn.execute(
                    "INSERT INTO title_aliases (guild_id, title_id, alias, position) VALUES (?, ?, ?, ?)",
                    (self.guild_id, cur.lastrowid, alias, position))
            await self._audit(conn, "add-title", slug, subject=name, new=name)
        return slug

    async def edit_title(self, title: models.Title, **changes: Any) -> list[str]:
        """Change fields of a title; a global title gets this server's override. Returns what changed."""
        fields = {"name", "kind", "status", "synopsis", "story_order", "franchise", "aliases"}
        if set(changes) - fields:
            raise EditError(f"cannot edit {', '.join(sorted(set(changes) - fields))}")
        changed: list[str] = []
        async with self._edit() as conn:
            # The server's own rows change in place, except a TMDB import's: the refresh rewrites those,
            # so the server's correction is an override that the refresh never touches.
            in_place = title.guild_id == self.guild_id and not await self._from_tmdb(conn, title.id)
            for field, value in changes.items():
                if value is None:
                    continue
                if field == "aliases":
                    old = tuple(title.aliases)
                    if tuple(value) == old:
                        continue
                    await conn.execute("DELETE FROM title_aliases WHERE title_id = ? AND guild_id = ?",
                                       (title.id, self.guild_id))
                    if title.guild_id is not None:
                        await conn.execute("DELETE FROM title_aliases WHERE title_id = ?", (title.id,))
                    for position, alias in enumerate(value):
                        await conn.execute(
                            "INSERT INTO title_aliases (guild_id, title_id, alias, position) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING", (self.guild_id, title.id, alias, position))
                    await self._audit(conn, "edit-title", title.slug, field="aliases", old=old, new=value)
                    changed.append("aliases")
                    continue
                column, stored = field, value
                old = getattr(title, field)
                if field == "franchise":
                    column, stored = "franchise_id", await self._franchise_id(conn, value)
                    old, value = title.franchise.name, value.name if isinstance(value, models.Franchise) else value
                if old == value:
                    continue
                if in_place:
                    await conn.execute(f"UPDATE titles SET {column} = ? WHERE id = ?", (stored, title.id))
                else:
                    await conn.execute(
                        f"INSERT INTO title_overrides (guild_id, title_id, {column}) VALUES (?, ?, ?) "
                        f"ON CONFLICT (guild_id, title_id) DO UPDATE SET {column} = excluded.{column}",
                        (self.guild_id, title.id, stored))
                await self._audit(conn, "edit-title", title.slug, field=field, old=old, new=value)
                changed.append(field)
        return changed

    async def remove_title(self, title: models.Title) -> str:
        """A server's own title is deleted; a global one is hidden in this server only."""
        async with self._edit() as conn:
            if title.guild_id == self.guild_id and not await self._from_tmdb(conn, title.id):
                await conn.execute("DELETE FROM titles WHERE id = ? AND guild_id = ?", (title.id, self.guild_id))
                outcome = "deleted"
            else:
                await conn.execute(
                    "INSERT INTO title_overrides (guild_id, title_id, hidden) VALUES (?, ?, 1) "
                    "ON CONFLICT (guild_id, title_id) DO UPDATE SET hidden = 1", (self.guild_id, title.id))
                outcome = "hidden"
            await self._audit(conn, "remove-title", title.slug, subject=title.name, old=title.name, new=outcome)
        return outcome

    # -- releases -------------------------------------------------------------------------------------

    async def set_release(self, title: models.Title, *, region: str, medium: str, date: dt.date,
                          time: dt.time | None = None, timezone: str | None = None, status: str = "confirmed",
                          note: str | None = None) -> ReleaseChange:
        if (time is None) != (timezone is None):
            raise EditError("Give a time zone with the time (for example America/New_York).")
        new = models.ReleaseValue(date=date, precision="day", status=status, time=time, timezone=timezone,
                                  note=note, source="server", as_of=self.now.date())
        async with self._edit() as conn:
            mine = await self._one(conn, "SELECT * FROM releases WHERE guild_id = ? AND title_id = ? AND region = ? "
                                   "AND medium = ?", (self.guild_id, title.id, region, medium))
            shared = await self._one(conn, "SELECT * FROM releases WHERE guild_id IS NULL AND title_id = ? "
                                     "AND region = ? AND medium = ?", (title.id, region, medium))
            current = mine or shared
            old = packs.value_from_row(current) if current else None
            params = packs.value_params(new)
            if mine:
                release_id = int(mine["id"])
                await conn.execute(
                    "UPDATE releases SET date = ?, time = ?, timezone = ?, precision = ?, status = ?, note = ?, "
                    "source = ?, as_of = ? WHERE id = ?", (*params, release_id))
            else:
                cur = await conn.execute(
                    "INSERT INTO releases (guild_id, title_id, region, medium, provider, date, time, timezone, "
                    "precision, status, note, source, as_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.guild_id, title.id, region, medium, shared["provider"] if shared else None, *params))
                release_id = int(cur.lastrowid)
                if shared:  # the correction carries the global history, so /release still shows it
                    await conn.execute(
                        "INSERT INTO release_history (release_id, date, time, timezone, precision, status, note, "
                        "source, as_of, recorded_at, recorded_by) SELECT ?, date, time, timezone, precision, "
                        "status, note, source, as_of, recorded_at, recorded_by FROM release_history "
                        "WHERE release_id = ? ORDER BY id", (release_id, shared["id"]))
            await conn.execute(
                "INSERT INTO release_history (release_id, date, time, timezone, precision, status, note, source, "
                "as_of, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (release_id, *params, self.stamp, f"user:{self.actor_id}"))
            was_moved = old is not None and packs.moved(old, new)
            if old is not None and was_moved:
                await packs.record_move(conn, release_id, self.guild_id, old, new, self.stamp)
            subject = f"{region} {medium}"
            await self._audit(conn, "set-release", title.slug, subject=subject, field="date",
                              old=_release_text(old) if old else None, new=_release_text(new))
        return ReleaseChange(release_id, old, new, was_moved)

    # -- credits --------------------------------------------------------------------------------------

    async def add_credit(self, title: models.Title, person: models.Person | str, *, kind: str,
                         role: str | None) -> models.Person | str:
        """Credit a person (a new one of this server's when given as a name). Returns the person."""
        async with self._edit() as conn:
            if isinstance(person, str):
                slug = await self._free_slug(conn, "people", person)
                cur = await conn.execute("INSERT INTO people (guild_id, slug, name, source) VALUES (?, ?, ?, ?)",
                                         (self.guild_id, slug, person, "server"))
                person_id, person_name = int(cur.lastrowid), person
                await self._audit(conn, "add-person", title.slug, subject=person, new=slug)
            else:
                person_id, person_name = person.id, person.name
            job = role if kind == "crew" else None
            character = role if kind == "cast" else None
            duplicate = await self._one(
                conn, "SELECT c.id FROM credits c WHERE c.title_id = ? AND c.person_id = ? AND c.kind = ? "
                "AND ifnull(c.guild_id, 0) IN (0, ?) AND ifnull(c.character, '') = ifnull(?, '') "
                "AND ifnull(c.job, '') = ifnull(?, '') AND NOT EXISTS (SELECT 1 FROM credit_suppressions s "
                "WHERE s.credit_id = c.id AND s.guild_id = ?)",
                (title.id, person_id, kind, self.guild_id, character, job, self.guild_id))
            if duplicate:
                raise EditError(f"{person_name} already has that {kind} credit on {title.name}.")
            billing = await self._one(conn, "SELECT max(billing) AS b FROM credits WHERE title_id = ? AND kind = ? "
                                      "AND ifnull(guild_id, 0) IN (0, ?)", (title.id, kind, self.guild_id))
            department = packs.JOB_DEPARTMENTS.get((job or "").lower(), "other") if kind == "crew" else None
            await conn.execute(
                "INSERT INTO credits (guild_id, title_id, person_id, kind, character, department, job, billing, "
                "source, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1000)",
                (self.guild_id, title.id, person_id, kind, character, department, job,
                 (billing["b"] or 0) + 1, "server"))
            await self._audit(conn, "add-credit", title.slug, subject=person_name, field=kind, new=role or kind)
        return person

    async def remove_credit(self, title: models.Title, person: models.Person, *, kind: str,
                            role: str | None) -> int:
        """Remove matching credits: this server's own are deleted, global ones suppressed here."""
        credits = [c for c in await queries.credits_for_title(self.store, title, self.guild_id, kind=kind)
                   if c.person.id == person.id and (role is None or (role.casefold() in
                                                    ((c.character or c.job or "").casefold(),)))]
        if not credits:
            detail = f" as {role}" if role else ""
            raise EditError(f"{person.name} has no {kind} credit{detail} on {title.name}.")
        async with self._edit() as conn:
            for credit in credits:
                own = await self._one(conn, "SELECT guild_id FROM credits WHERE id = ?", (credit.id,))
                if own and own["guild_id"] == self.guild_id:
                    await conn.execute("DELETE FROM credits WHERE id = ?", (credit.id,))
                else:
                    await conn.execute("INSERT INTO credit_suppressions (guild_id, credit_id) VALUES (?, ?) "
                                       "ON CONFLICT DO NOTHING", (self.guild_id, credit.id))
                await self._audit(conn, "remove-credit", title.slug, subject=person.name, field=kind,
                                  old=credit.character or credit.job or kind)
        return len(credits)

    # -- where to watch -------------------------------------------------------------------------------

    async def set_watch(self, title: models.Title, *, provider: str, kind: str, region: str,
                        price: str | None, currency: str | None) -> None:
        as_of = self.now.date().isoformat()
        async with self._edit() as conn:
            old = await self._one(
                conn, "SELECT price, currency FROM watch_offers WHERE ifnull(guild_id, 0) IN (0, ?) AND title_id = ? "
                "AND region = ? AND provider = ? AND kind = ? ORDER BY guild_id IS NULL LIMIT 1",
                (self.guild_id, title.id, region, provider, kind))
            await conn.execute(
                "INSERT INTO watch_offers (guild_id, title_id, region, provider, kind, price, currency, source, as_of, "
                "position) VALUES (?, ?, ?, ?, ?, ?, ?, 'server', ?, 1000) "
                "ON CONFLICT (ifnull(guild_id, 0), title_id, region, provider, kind) DO UPDATE SET "
                "price = excluded.price, currency = excluded.currency, as_of = excluded.as_of",
                (self.guild_id, title.id, region, provider, kind, price, currency, as_of))
            old_text = (f"{old['price']} {old['currency']}" if old and old["price"] else "listed") if old else None
            await self._audit(conn, "set-watch", title.slug, subject=f"{provider} {kind} {region}",
                              old=old_text, new=f"{price} {currency}" if price else "listed")

    # -- packs ----------------------------------------------------------------------------------------

    async def import_pack(self, pack: dict[str, Any]) -> packs.ImportReport:
        async def audit(conn: Any, report: packs.ImportReport) -> None:
            summary = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "no changes"
            await self._audit(conn, "import", None, subject=f"{report.pack} v{report.version}", new=summary)
            for title in pack["titles"]:
                await self._audit(conn, "import", title["slug"], subject=f"{report.pack} v{report.version}",
                                  new=title["name"])

        return await packs.load_pack(self.store, pack, now=self.now, guild_id=self.guild_id, force=True, also=audit)


def _release_text(value: models.ReleaseValue) -> str:
    text = value.date.isoformat() if value.date else "TBA"
    if value.time is not None:
        text += f" {value.time:%H:%M} {value.timezone}"
    return f"{text} ({value.status})"
