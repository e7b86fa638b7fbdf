"""The query API: the only place the bot reads the catalog. Returns plain dataclasses.

Visibility: a server sees global rows (guild_id NULL) and its own rows; where it has its own row
with the same key (a title's slug, a release's region and medium), its row wins. Every query takes
the guild from the caller (the interaction), never from member input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from db import models
from db.store import Store

# ifnull(guild_id, 0) IN (0, :guild) matches the expression indexes in 0001_initial.sql.
_VISIBLE = "ifnull({t}.guild_id, 0) IN (0, :guild)"

# A title as a server sees it: the row, overlaid with that server's corrections (title_overrides).
_TITLE_COLUMNS = (
    "t.id AS t_id, t.guild_id AS t_guild, t.slug AS t_slug, coalesce(o.name, t.name) AS t_name, "
    "coalesce(o.kind, t.kind) AS t_kind, coalesce(o.status, t.status) AS t_status, "
    "coalesce(o.story_order, t.story_order) AS t_story, coalesce(o.synopsis, t.synopsis) AS t_synopsis, "
    "t.source AS t_source, t.runtime AS t_runtime, "
    "f.id AS f_id, f.slug AS f_slug, f.name AS f_name, f.guild_id AS f_guild"
)
_FRANCHISE_JOIN = (
    "LEFT JOIN title_overrides o ON o.title_id = t.id AND o.guild_id = :guild "
    "JOIN franchises f ON f.id = coalesce(o.franchise_id, t.franchise_id)"
)
_TITLE_FROM = f"titles t {_FRANCHISE_JOIN}"
_TITLE_VISIBLE = "ifnull(t.guild_id, 0) IN (0, :guild) AND ifnull(o.hidden, 0) = 0"
_NOT_SUPPRESSED = ("NOT EXISTS (SELECT 1 FROM credit_suppressions s WHERE s.credit_id = c.id "
                   "AND s.guild_id = :guild)")


def _g(guild_id: int | None) -> int:
    return guild_id or 0


def _prefer_guild(rows: Iterable[Any], key: str = "slug", guild: str = "guild_id") -> list[Any]:
    """Drop global rows shadowed by the guild's own row with the same key, keeping order."""
    rows = list(rows)
    owned = {r[key] for r in rows if r[guild] is not None}
    return [r for r in rows if r[guild] is not None or r[key] not in owned]


async def _aliases(store: Store, table: str, column: str, ids: list[int], guild_id: int | None,
                   ) -> dict[int, tuple[str, ...]]:
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    # Chunked to stay under SQLite's variable limit on big catalogs.
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        marks = ", ".join("?" for _ in chunk)
        rows = await store.fetchall(
            f"SELECT {column} AS owner, alias FROM {table} WHERE {column} IN ({marks}) "
            f"AND ifnull(guild_id, 0) IN (0, ?) ORDER BY ifnull(guild_id, 0), position, id",
            (*chunk, _g(guild_id)))
        for row in rows:
            out.setdefault(row["owner"], []).append(row["alias"])
    return {k: tuple(v) for k, v in out.items()}


async def _all_aliases(store: Store, table: str, column: str, ids: list[int], guild_id: int | None,
                       ) -> dict[int, tuple[str, ...]]:
    """Aliases for a search index: one scan for the global catalog, by id for a server's few rows."""
    if guild_id is not None:
        return await _aliases(store, table, column, ids, guild_id)
    out: dict[int, list[str]] = {}
    for row in await store.fetchall(
            f"SELECT {column} AS owner, alias FROM {table} WHERE guild_id IS NULL ORDER BY position, id"):
        out.setdefault(row["owner"], []).append(row["alias"])
    return {k: tuple(v) for k, v in out.items()}


def _title(row: Any, aliases: tuple[str, ...] = ()) -> models.Title:
    return models.Title(
        id=row["t_id"], slug=row["t_slug"], name=row["t_name"], kind=row["t_kind"], status=row["t_status"],
        franchise=models.Franchise(row["f_id"], row["f_slug"], row["f_name"], row["f_guild"]),
        story_order=row["t_story"], synopsis=row["t_synopsis"], aliases=aliases, source=row["t_source"],
        runtime=row["t_runtime"],
        guild_id=row["t_guild"],
    )


# -- franchises and titles --------------------------------------------------------------------------


async def franchises(store: Store, guild_id: int | None) -> list[models.Franchise]:
    rows = await store.fetchall(
        f"SELECT id, slug, name, guild_id FROM franchises f WHERE {_VISIBLE.format(t='f')} ORDER BY name, id",
        {"guild": _g(guild_id)})
    return [models.Franchise(r["id"], r["slug"], r["name"], r["guild_id"]) for r in _prefer_guild(rows)]


async def titles(store: Store, guild_id: int | None, *, franchise: str | None = None) -> list[models.Title]:
    sql = f"SELECT {_TITLE_COLUMNS} FROM {_TITLE_FROM} WHERE {_TITLE_VISIBLE}"
    params: dict[str, Any] = {"guild": _g(guild_id)}
    if franchise:
        sql += " AND f.slug = :franchise"
        params["franchise"] = franchise
    rows = _prefer_guild(await store.fetchall(sql + " ORDER BY t.position, t.id", params), "t_slug", "t_guild")
    aliases = await _aliases(store, "title_aliases", "title_id", [r["t_id"] for r in rows], guild_id)
    return [_title(r, aliases.get(r["t_id"], ())) for r in rows]


async def get_title(store: Store, slug: str, guild_id: int | None) -> models.Title | None:
    rows = await store.fetchall(
        f"SELECT {_TITLE_COLUMNS} FROM {_TITLE_FROM} WHERE {_TITLE_VISIBLE} AND t.slug = :slug",
        {"guild": _g(guild_id), "slug": slug})
    rows = _prefer_guild(rows, "t_slug", "t_guild")
    if not rows:
        return None
    aliases = await _aliases(store, "title_aliases", "title_id", [rows[0]["t_id"]], guild_id)
    return _title(rows[0], aliases.get(rows[0]["t_id"], ()))


async def title_search_entries(store: Store, guild_id: int | None, *,
                               slugs: Collection[str] | None = None) -> list[models.SearchEntry]:
    """Titles for the search index, with their aliases and first release year (for autocomplete).

    guild_id None: the global titles as shipped (with `slugs`, only those: what `search_changes` named,
    to update an index in place). A number: only what that server changes, its own titles and the global
    titles it renamed or gave aliases (these shadow the global entries).
    """
    if slugs is not None:
        if guild_id is not None:
            raise ValueError("entries by slug are for the global index")
        out: list[models.SearchEntry] = []
        ordered = sorted(set(slugs))
        for start in range(0, len(ordered), 900):  # under SQLite's variable limit
            chunk = ordered[start:start + 900]
            marks = ", ".join("?" for _ in chunk)
            out += await _title_entries(store, None, f"t.guild_id IS NULL AND t.slug IN ({marks})", chunk)
        return out
    if guild_id is None:
        return await _title_entries(store, None, "t.guild_id IS NULL", [])
    return await _title_entries(
        store, guild_id,
        "(t.guild_id = ? OR t.id IN (SELECT title_id FROM title_overrides WHERE guild_id = ? "
        "AND (name IS NOT NULL OR hidden = 1)) OR t.id IN (SELECT title_id FROM title_aliases WHERE guild_id = ?))",
        [guild_id] * 3)


async def _title_entries(store: Store, guild_id: int | None, owner: str, params: list[Any],
                         ) -> list[models.SearchEntry]:
    rows = await store.fetchall(
        f"SELECT t.id, t.slug, coalesce(o.name, t.name) AS name, ifnull(o.hidden, 0) AS hidden, "
        f"(SELECT min(substr(r.date, 1, 4)) FROM releases r WHERE r.title_id = t.id AND r.date IS NOT NULL "
        f"AND ifnull(r.guild_id, 0) IN (0, ?)) AS year FROM titles t "
        f"LEFT JOIN title_overrides o ON o.title_id = t.id AND o.guild_id = ? WHERE {owner}",
        (_g(guild_id), _g(guild_id), *params))
    ids = [r["id"] for r in rows]
    aliases = (await _all_aliases(store, "title_aliases", "title_id", ids, guild_id) if not params
               else await _aliases(store, "title_aliases", "title_id", ids, guild_id))
    years: dict[str, tuple[str, ...]] = {}  # one tuple per year: 100,000 entries share a few hundred
    return [models.SearchEntry(r["slug"], r["name"], aliases.get(r["id"], ()) if not r["hidden"] else (),
                               guild_id, years.setdefault(r["year"], (r["year"],)) if r["year"] else (),
                               hidden=bool(r["hidden"]))
            for r in rows]


async def person_search_entries(store: Store, guild_id: int | None, *,
                                slugs: Collection[str] | None = None) -> list[models.SearchEntry]:
    """People for the search index (see title_search_entries)."""
    if slugs is not None:
        if guild_id is not None:
            raise ValueError("entries by slug are for the global index")
        out: list[models.SearchEntry] = []
        ordered = sorted(set(slugs))
        for start in range(0, len(ordered), 900):
            chunk = ordered[start:start + 900]
            rows = await store.fetchall(
                f"SELECT p.id, p.slug, p.name FROM people p WHERE p.guild_id IS NULL "
                f"AND p.slug IN ({', '.join('?' for _ in chunk)})", chunk)
            aliases = await _aliases(store, "person_aliases", "person_id", [r["id"] for r in rows], None)
            out += [models.SearchEntry(r["slug"], r["name"], aliases.get(r["id"], ())) for r in rows]
        return out
    owner = "p.guild_id IS NULL" if guild_id is None else (
        "(p.guild_id = :guild OR p.id IN (SELECT person_id FROM person_aliases WHERE guild_id = :guild))")
    rows = await store.fetchall(f"SELECT p.id, p.slug, p.name FROM people p WHERE {owner}",
                                {"guild": _g(guild_id)})
    aliases = await _all_aliases(store, "person_aliases", "person_id", [r["id"] for r in rows], guild_id)
    return [models.SearchEntry(r["slug"], r["name"], aliases.get(r["id"], ()), guild_id) for r in rows]


async def search_change_position(store: Store) -> int:
    """The id of the newest row of `search_changes` (0 when none): where an index built now starts."""
    row = await store.fetchone("SELECT coalesce(max(id), 0) FROM search_changes")
    return int(row[0]) if row else 0


async def search_changes(store: Store, kind: str, after: int) -> tuple[list[tuple[int, str]], bool]:
    """The (id, slug) of the global titles or people (`kind`) whose search entries may have changed in
    the rows after `after`, in id order, and whether the log still reaches back that far (False: rows
    after `after` were pruned, so the caller must load everything again)."""
    pruned = await store.fetchone("SELECT value FROM meta WHERE key = 'search_changes.pruned'")
    if pruned is not None and int(pruned[0]) > after:
        return [], False
    rows = await store.fetchall("SELECT id, slug FROM search_changes WHERE id > ? AND kind = ? ORDER BY id",
                                (after, kind))
    return [(int(r["id"]), str(r["slug"])) for r in rows], True


# -- releases ---------------------------------------------------------------------------------------


def _value(row: Any) -> models.ReleaseValue:
    return models.ReleaseValue(
        date=dt.date.fromisoformat(row["date"]) if row["date"] else None,
        precision=row["precision"], status=row["status"],
        time=dt.time.fromisoformat(row["time"]) if row["time"] else None,
        timezone=row["timezone"], note=row["note"], source=row["source"],
        as_of=dt.date.fromisoformat(row["as_of"]),
    )


async def _releases(store: Store, where: str, params: dict[str, Any], guild_id: int | None,
                    *, with_history: bool, newest_first: bool = False, limit: int | None = None,
                    ) -> list[models.Release]:
    order = ("r.date DESC, r.time DESC, r.id DESC" if newest_first
             else "r.date IS NULL, r.date, r.time, r.id")
    rows = await store.fetchall(
        f"SELECT r.*, {_TITLE_COLUMNS} FROM releases r JOIN titles t ON t.id = r.title_id {_FRANCHISE_JOIN} "
        f"WHERE {_VISIBLE.format(t='r')} AND {_TITLE_VISIBLE} AND {where} ORDER BY {order}"
        + (" LIMIT :limit" if limit else ""), {**params, "guild": _g(guild_id), "limit": (limit or 0) * 2})
    # A guild's own release for the same title, region and medium replaces the global one.
    owned = {(r["title_id"], r["region"], r["medium"]) for r in rows if r["guild_id"] is not None}
    rows = [r for r in rows if r["guild_id"] is not None or (r["title_id"], r["region"], r["medium"]) not in owned]
    history: dict[int, list[models.HistoryEntry]] = {}
    if with_history and rows:
        ids = [r["id"] for r in rows]
        marks = ", ".join("?" for _ in ids)
        for h in await store.fetchall(
                f"SELECT * FROM release_history WHERE release_id IN ({marks}) ORDER BY id", tuple(ids)):
            history.setdefault(h["release_id"], []).append(models.HistoryEntry(
                _value(h), dt.datetime.fromisoformat(h["recorded_at"]), h["recorded_by"]))
    out = []
    for r in rows:
        out.append(models.Release(
            id=r["id"], title=_title(r), region=r["region"], medium=r["medium"], value=_value(r),
            provider=r["provider"], history=tuple(history.get(r["id"], ())), guild_id=r["guild_id"]))
    return out


async def releases_for_title(store: Store, title: models.Title, guild_id: int | None,
                             *, region: str | None = None) -> list[models.Release]:
    where, params = "r.title_id = :title", {"title": title.id}
    if region:
        where += " AND r.region = :region"
        params["region"] = region
    found = await _releases(store, where, params, guild_id, with_history=True)
    return [replace(r, title=title) for r in found]


async def release_of(store: Store, title_slug: str, guild_id: int | None, region: str,
                     medium: str) -> models.Release | None:
    """The release a countdown follows: this title's (region, medium) row as the server sees it."""
    title = await get_title(store, title_slug, guild_id)
    if title is None:
        return None
    found = await releases_for_title(store, title, guild_id, region=region)
    return next((r for r in found if r.medium == medium), None)


async def releases(store: Store, guild_id: int | None, *, franchise: str | None = None,
                   after: dt.date | None = None, before: dt.date | None = None, limit: int | None = None,
                   newest_first: bool = False) -> list[models.Release]:
    """Releases (current values, soonest first, undated last), filtered by franchise and date range."""
    where, params = "1 = 1", {}
    if franchise:
        where += " AND f.slug = :franchise"
        params["franchise"] = franchise
    if after:
        where += " AND r.date >= :after"
        params["after"] = after.isoformat()
    if before:
        where += " AND r.date < :before"
        params["before"] = before.isoformat()
    found = await _releases(store, where, params, guild_id, with_history=False, newest_first=newest_first,
                            limit=limit)
    return found[:limit] if limit else found


# -- people and credits ----------------------------------------------------------------------------


def _person(row: Any, aliases: tuple[str, ...] = (), prefix: str = "") -> models.Person:
    return models.Person(id=row[f"{prefix}id"], slug=row[f"{prefix}slug"], name=row[f"{prefix}name"],
                         bio=row[f"{prefix}bio"], aliases=aliases, source=row[f"{prefix}source"],
                         guild_id=row[f"{prefix}guild_id"])


async def get_person(store: Store, slug: str, guild_id: int | None) -> models.Person | None:
    rows = _prefer_guild(await store.fetchall(
        f"SELECT * FROM people p WHERE {_VISIBLE.format(t='p')} AND p.slug = :slug",
        {"guild": _g(guild_id), "slug": slug}))
    if not rows:
        return None
    aliases = await _aliases(store, "person_aliases", "person_id", [rows[0]["id"]], guild_id)
    return _person(rows[0], aliases.get(rows[0]["id"], ()))


_CREDIT_SQL = (
    "SELECT c.id, c.kind, c.character, c.department, c.job, c.billing, c.note, c.source, "
    "p.id AS p_id, p.slug AS p_slug, p.name AS p_name, p.bio AS p_bio, p.source AS p_source, "
    f"p.guild_id AS p_guild_id, {_TITLE_COLUMNS} FROM credits c JOIN people p ON p.id = c.person_id "
    f"JOIN titles t ON t.id = c.title_id {_FRANCHISE_JOIN} WHERE ifnull(c.guild_id, 0) IN (0, :guild) "
    f"AND {_NOT_SUPPRESSED} AND "
)


def _credit(row: Any, title: models.Title | None = None, person: models.Person | None = None) -> models.Credit:
    return models.Credit(
        id=row["id"], title=title or _title(row), person=person or _person(row, prefix="p_"), kind=row["kind"],
        character=row["character"], department=row["department"], job=row["job"], billing=row["billing"],
        note=row["note"], source=row["source"])


async def credits_for_title(store: Store, title: models.Title, guild_id: int | None,
                            *, kind: str | None = None) -> list[models.Credit]:
    sql = _CREDIT_SQL + "c.title_id = :title"
    params: dict[str, Any] = {"guild": _g(guild_id), "title": title.id}
    if kind:
        sql += " AND c.kind = :kind"
        params["kind"] = kind
    rows = await store.fetchall(sql + " ORDER BY c.kind, c.billing IS NULL, c.billing, c.position, c.id", params)
    return [_credit(r, title=title) for r in rows]


_FIRST_RELEASE = ("(SELECT min(r.date) FROM releases r WHERE r.title_id = t.id AND r.date IS NOT NULL "
                  "AND ifnull(r.guild_id, 0) IN (0, :guild))")


async def credits_for_person(store: Store, person: models.Person, guild_id: int | None) -> list[models.Credit]:
    sql = _CREDIT_SQL + "c.person_id = :person"
    rows = await store.fetchall(
        sql + f" AND {_TITLE_VISIBLE} ORDER BY {_FIRST_RELEASE} IS NULL, {_FIRST_RELEASE}, "
        "t.position, c.kind, c.position", {"guild": _g(guild_id), "person": person.id})
    return [_credit(r, person=person) for r in rows]


async def people_by_credits(store: Store, guild_id: int | None, limit: int) -> list[models.Person]:
    rows = await store.fetchall(
        f"SELECT p.* FROM people p JOIN credits c ON c.person_id = p.id WHERE {_VISIBLE.format(t='p')} "
        "AND ifnull(c.guild_id, 0) IN (0, :guild) GROUP BY p.id ORDER BY count(*) DESC, p.name LIMIT :limit",
        {"guild": _g(guild_id), "limit": limit})
    return [_person(r) for r in _prefer_guild(rows)]


async def first_release_years(store: Store, title_ids: list[int], guild_id: int | None) -> dict[int, int]:
    if not title_ids:
        return {}
    marks = ", ".join("?" for _ in title_ids)
    rows = await store.fetchall(
        f"SELECT title_id, min(substr(date, 1, 4)) AS year FROM releases WHERE title_id IN ({marks}) "
        "AND date IS NOT NULL AND ifnull(guild_id, 0) IN (0, ?) GROUP BY title_id", (*title_ids, _g(guild_id)))
    return {r["title_id"]: int(r["year"]) for r in rows}


# -- where to watch ---------------------------------------------------------------------------------


async def watch_offers(store: Store, title: models.Title, guild_id: int | None,
                       *, region: str | None = None) -> list[models.WatchOffer]:
    sql = (f"SELECT * FROM watch_offers o WHERE {_VISIBLE.format(t='o')} AND o.title_id = :title")
    params: dict[str, Any] = {"guild": _g(guild_id), "title": title.id}
    if region:
        sql += " AND o.region = :region"
        params["region"] = region
    rows = await store.fetchall(sql + " ORDER BY o.region, o.kind = 'buy', o.kind = 'rent', o.position, o.id",
                                params)
    owned = {(r["region"], r["provider"], r["kind"]) for r in rows if r["guild_id"] is not None}
    return [
        models.WatchOffer(id=r["id"], title=title, region=r["region"], provider=r["provider"], kind=r["kind"],
                          as_of=dt.date.fromisoformat(r["as_of"]), price=r["price"], currency=r["currency"],
                          note=r["note"], source=r["source"])
        for r in rows if r["guild_id"] is not None or (r["region"], r["provider"], r["kind"]) not in owned
    ]


# -- servers: settings and the audit trail --------------------------------------------------------------


def _settings(row: Any) -> models.GuildSettings:
    return models.GuildSettings(guild_id=row["guild_id"], timezone=row["timezone"], region=row["region"],
                                alerts_channel_id=row["alerts_channel_id"], posting_hour=row["posting_hour"],
                                posting_minute=row["posting_minute"], events_enabled=bool(row["events_enabled"]))


async def guild_settings(store: Store, guild_id: int) -> models.GuildSettings:
    row = await store.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return _settings(row) if row else models.GuildSettings(guild_id)


async def all_guild_settings(store: Store) -> dict[int, models.GuildSettings]:
    return {r["guild_id"]: _settings(r) for r in await store.fetchall("SELECT * FROM guild_settings")}


async def audit_for_title(store: Store, guild_id: int, slug: str, limit: int = 200) -> list[models.AuditEntry]:
    rows = await store.fetchall(
        "SELECT * FROM audit_log WHERE guild_id = ? AND title_slug = ? ORDER BY id DESC LIMIT ?",
        (guild_id, slug, limit))
    return [models.AuditEntry(dt.datetime.fromisoformat(r["at"]), r["actor_id"], r["action"], r["title_slug"],
                              r["subject"], r["field"], r["old"], r["new"]) for r in rows]


# -- sources ----------------------------------------------------------------------------------------


_source_cache: dict[int, tuple[int, dict[str, str]]] = {}


async def source_names(store: Store) -> dict[str, str]:
    """Source keys to names (they change only when a pack is loaded: cached per store generation)."""
    cached = _source_cache.get(id(store))
    if cached and cached[0] == store.generation:
        return cached[1]
    rows = await store.fetchall("SELECT key, name FROM sources ORDER BY id")
    out: dict[str, str] = {"server": "this server's moderators"}
    for row in rows:
        out.setdefault(row["key"], row["name"])
    _source_cache[id(store)] = (store.generation, out)
    return out
