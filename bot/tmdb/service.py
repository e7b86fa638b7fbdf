"""TMDB imports and refreshes: fetch (network, no writes), build a pack (pure), load it (one transaction).

A failed or partial fetch writes nothing: every request is made before the one transaction that loads
the pack and records its link. The refresh rebuilds each linked pack and loads it over the old one;
a changed date is recorded as a move (history kept, countdowns re-planned, one "moved" post) by the
same code that loads any pack. A server's own corrections win: a global title it corrected keeps its
overlay, and in a server's own import the refresh leaves the rows its moderators wrote.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.tmdb.client import TMDBCapReached, TMDBClient, TMDBError
from bot.tmdb.mapping import Bundle, Source, build_pack, franchise_of
from db import packs, validate
from db import tmdb as links_db
from db.store import Store

log = logging.getLogger(__name__)

MAX_PARTS = 50  # films fetched from one collection
SEARCH_CACHE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str  # collection, movie, tv
    tmdb_id: int
    name: str
    year: str | None = None

    @property
    def label(self) -> str:
        year = f" ({self.year})" if self.year else ""
        return f"{self.name}{year}"


@dataclass(slots=True)
class ImportResult:
    source: Source
    name: str
    franchise: str
    guild_id: int | None
    report: packs.ImportReport
    titles: int = 0

    @property
    def moved(self) -> list[packs.MovedRelease]:
        return self.report.moved


@dataclass(slots=True)
class RefreshResult:
    done: list[ImportResult] = field(default_factory=list)
    failed: list[tuple[links_db.Link, str]] = field(default_factory=list)

    @property
    def moved(self) -> list[packs.MovedRelease]:
        return [m for r in self.done for m in r.moved]


class TMDBService:
    """Built once per process with the operator's token; `budget_for(guild)` caps a server's requests."""

    def __init__(self, *, store: Store, clock: Clock, base_url: str, token: str, daily_cap: int = 500,
                 client_options: dict[str, Any] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.base_url = base_url
        self._token = token
        self.daily_cap = daily_cap
        self.client_options = client_options or {}
        self._search_cache: dict[tuple[int | None, str], tuple[float, list[Hit]]] = {}
        self._refreshing = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TMDBService({self.base_url!r})"

    def client(self, guild_id: int | None = None) -> TMDBClient:
        return TMDBClient(self.base_url, self._token, before_request=self._budget(guild_id), **self.client_options)

    def _budget(self, guild_id: int | None) -> Callable[[], Awaitable[None]] | None:
        if guild_id is None:
            return None  # the operator's own commands and the refresh are not capped

        async def spend() -> None:
            if await links_db.spend(self.store, guild_id, self.clock.now().date(), self.daily_cap) is None:
                raise TMDBCapReached(f"This server has used its {self.daily_cap} TMDB requests for today; "
                                     "try again tomorrow (UTC).")
        return spend

    # -- search ---------------------------------------------------------------------------------

    async def search(self, query: str, *, guild_id: int | None = None, limit: int = 25) -> list[Hit]:
        """Collections first (a franchise in one go), then films and series. Cached for ten minutes."""
        query = validate.clean_text(query)[:100]
        if not query:
            return []
        key = (guild_id, query.casefold())
        loop = asyncio.get_running_loop()
        cached = self._search_cache.get(key)
        if cached and loop.time() - cached[0] < SEARCH_CACHE_SECONDS:
            return cached[1][:limit]
        async with self.client(guild_id) as tmdb:
            collections, multi = await asyncio.gather(tmdb.search("collection", query), tmdb.search("multi", query))
        hits: list[Hit] = []
        for item in collections:
            name = _clean(item.get("name"))
            if isinstance(item.get("id"), int) and name:
                hits.append(Hit("collection", item["id"], name))
        for item in multi:
            kind = item.get("media_type")
            if kind not in ("movie", "tv") or not isinstance(item.get("id"), int):
                continue
            name = _clean(item.get("title") if kind == "movie" else item.get("name"))
            when = item.get("release_date") if kind == "movie" else item.get("first_air_date")
            if name:
                hits.append(Hit(kind, item["id"], name, when[:4] if isinstance(when, str) and len(when) >= 4 else None))
        if len(self._search_cache) > 1000:
            self._search_cache.clear()
        self._search_cache[key] = (loop.time(), hits)
        return hits[:limit]

    # -- import ---------------------------------------------------------------------------------

    async def fetch(self, source: Source, *, guild_id: int | None = None) -> Bundle:
        """Every request an import needs, before anything is written."""
        bundle = Bundle(source)
        async with self.client(guild_id) as tmdb:
            if source.kind == "collection":
                bundle.collection = await tmdb.collection(source.tmdb_id)
                parts = [p for p in bundle.collection.get("parts") or [] if isinstance(p, dict)
                         and isinstance(p.get("id"), int) and p.get("media_type", "movie") == "movie"]
                parts.sort(key=lambda p: (p.get("release_date") or "9999", p["id"]))
                bundle.movies = list(await asyncio.gather(*(tmdb.movie(p["id"]) for p in parts[:MAX_PARTS])))
            elif source.kind == "movie":
                bundle.movies = [await tmdb.movie(source.tmdb_id)]
            else:
                bundle.tv = await tmdb.tv(source.tmdb_id)
                numbers = [s["season_number"] for s in bundle.tv.get("seasons") or []
                           if isinstance(s, dict) and isinstance(s.get("season_number"), int)
                           and s["season_number"] >= 1]
                bundle.seasons = list(await asyncio.gather(*(tmdb.season(source.tmdb_id, n)
                                                             for n in numbers[:MAX_PARTS])))
        return bundle

    async def import_source(self, source: Source, *, guild_id: int | None = None, franchise: str | None = None,
                            actor: str = "cli") -> ImportResult:
        """Fetch and load one collection, film or series as global data (guild_id None) or a server's."""
        bundle = await self.fetch(source, guild_id=guild_id)
        return await self._load(bundle, guild_id=guild_id, franchise=franchise, actor=actor, refresh=False)

    async def _load(self, bundle: Bundle, *, guild_id: int | None, franchise: str | None, actor: str,
                    refresh: bool) -> ImportResult:
        now = self.clock.now()
        slug = bundle.source.pack_slug
        shared = await links_db.held_elsewhere(self.store, "franchises", guild_id, slug)
        people = await links_db.held_elsewhere(self.store, "people", guild_id, slug)
        chosen = franchise_of(bundle, franchise)
        try:
            pack = build_pack(bundle, today=now.date(), franchise=chosen,
                              define_franchise=chosen["slug"] not in shared, shared_franchises=shared,
                              shared_people=people)
        except packs.PackError as exc:  # TMDB sent something no pack may hold; say where, write nothing
            raise TMDBError(f"TMDB's data for {bundle.source} could not be used ({exc.problems[0]})") from None
        if not pack["titles"]:
            raise TMDBError(f"{bundle.source} has no film or series Marquee can import")
        owners = await links_db.title_owners(self.store, guild_id, [t["slug"] for t in pack["titles"]])
        taken = {slug: owner for slug, owner in owners.items() if owner != bundle.source.pack_slug}
        if taken:
            slug, owner = next(iter(taken.items()))
            name = next(t["name"] for t in pack["titles"] if t["slug"] == slug)
            raise TMDBError(f"{name} is already in {'this server' if guild_id else 'the'} catalog through "
                            f"{owner.replace('tmdb-', 'TMDB ').replace('-', ' ')}; it stays fresh from there")
        stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")

        async def link(conn: Any, _report: packs.ImportReport) -> None:
            await links_db.save_link(conn, pack_slug=bundle.source.pack_slug, guild_id=guild_id,
                                     kind=bundle.source.kind, tmdb_id=bundle.source.tmdb_id,
                                     franchise_slug=chosen["slug"], actor=actor, stamp=stamp)

        report = await packs.load_pack(self.store, pack, now=now, guild_id=guild_id, force=True, also=link,
                                       keep_server_edits=guild_id is not None)
        log.info("%s TMDB %s %s for %s: %s", "refreshed" if refresh else "imported", bundle.source.kind,
                 bundle.source.tmdb_id, f"guild {guild_id}" if guild_id else "global data",
                 ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "no changes")
        return ImportResult(bundle.source, bundle.name, chosen["slug"], guild_id, report, len(pack["titles"]))

    # -- refresh --------------------------------------------------------------------------------

    async def refresh(self, *, guild_id: int | None = None, every_owner: bool = True) -> RefreshResult:
        """Rebuild every TMDB-linked pack from TMDB now. One TMDB fetch per source, whoever imported it."""
        result = RefreshResult()
        async with self._refreshing:
            fetched: dict[Source, Bundle | str] = {}
            for link in await links_db.links(self.store, guild_id=guild_id, every_owner=every_owner):
                source = Source(link.kind, link.tmdb_id)
                if source not in fetched:
                    try:
                        fetched[source] = await self.fetch(source)
                    except TMDBError as exc:
                        fetched[source] = str(exc)
                bundle = fetched[source]
                try:
                    if isinstance(bundle, str):
                        raise TMDBError(bundle)
                    result.done.append(await self._load(bundle, guild_id=link.guild_id, franchise=link.franchise_slug,
                                                        actor="refresh", refresh=True))
                except (TMDBError, packs.PackError) as exc:
                    log.warning("could not refresh %s (%s): %s", source, link.pack_slug, exc)
                    await links_db.mark_failed(self.store, link.pack_id, str(exc))
                    result.failed.append((link, str(exc)))
        return result


def _clean(value: Any) -> str | None:
    return validate.clean_text(value)[:100] or None if isinstance(value, str) else None
