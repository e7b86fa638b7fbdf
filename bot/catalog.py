"""The catalog core: search over titles and people with cached indexes, and guild-aware lookups.

Cogs ask this (and db.queries) for plain dataclasses; nothing here knows about Discord.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import timemath
from bot.readcache import ReadCache
from bot.search import Hit, SearchIndex, merge
from db import models, queries
from db.store import Store

log = logging.getLogger(__name__)

EntryLoader = Callable[[Store, int | None], Awaitable[list[models.SearchEntry]]]


@dataclass(slots=True)
class _Cached:
    index: SearchIndex
    generation: tuple[int, int]


class _Indexes:
    """A global index (rebuilt off the event loop when the store changes) plus small per-guild ones."""

    def __init__(self, store: Store, loader: EntryLoader) -> None:
        self.store = store
        self.loader = loader
        self._global: _Cached | None = None
        self._guilds: dict[int, _Cached] = {}
        self._rebuild: asyncio.Task[None] | None = None

    async def _build(self, guild_id: int | None) -> SearchIndex:
        entries = await self.loader(self.store, guild_id)
        if len(entries) > 2000:
            return await asyncio.to_thread(SearchIndex, entries)
        return SearchIndex(entries)

    async def _refresh_global(self, generation: tuple[int, int]) -> None:
        try:
            index = await self._build(None)
        except Exception:
            log.exception("could not rebuild the search index; still serving the previous one")
            return
        self._global = _Cached(index, generation)

    async def get(self, guild_id: int | None) -> list[SearchIndex]:
        generation = await self.store.version_token()
        if self._global is None:
            await self._refresh_global(generation)
        elif self._global.generation != generation and (self._rebuild is None or self._rebuild.done()):
            # Serve the old index while a new one is built: a big catalog takes a moment.
            self._rebuild = asyncio.create_task(self._refresh_global(generation))
        assert self._global is not None
        if guild_id is None:
            return [self._global.index]
        cached = self._guilds.get(guild_id)
        if cached is None or cached.generation != generation:
            cached = _Cached(await self._build(guild_id), generation)
            self._guilds[guild_id] = cached
        if len(cached.index) or cached.index.hidden:
            return [cached.index, self._global.index]
        return [self._global.index]


def _search(indexes: list[SearchIndex], query: str, limit: int) -> list[Hit]:
    """Search a guild's index and the global one; the guild's entries (and hidden slugs) shadow."""
    hidden = indexes[0].hidden if len(indexes) > 1 else frozenset()
    return merge([ix.search(query, limit + len(hidden)) for ix in indexes], limit, hidden)


class Catalog:
    def __init__(self, store: Store, reads: ReadCache | None = None) -> None:
        self.store = store
        self.reads = reads or ReadCache(store)
        self._titles = _Indexes(store, queries.title_search_entries)
        self._people = _Indexes(store, queries.person_search_entries)

    async def warm(self) -> None:
        """Build the global search indexes now, so the first member does not wait for them."""
        await self._titles.get(None)
        await self._people.get(None)

    async def search_titles(self, guild_id: int | None, query: str, limit: int = 25) -> list[Hit]:
        return _search(await self._titles.get(guild_id), query, limit)

    async def search_people(self, guild_id: int | None, query: str, limit: int = 25) -> list[Hit]:
        return _search(await self._people.get(guild_id), query, limit)

    async def find_title(self, guild_id: int | None, query: str) -> tuple[models.Title | None, list[str]]:
        """The title meant by `query` (a slug from autocomplete or free text), else up to 3 suggestions."""
        slug = await self._resolve(await self._titles.get(guild_id), query)
        if slug:
            title = await self.reads.get_title(slug, guild_id)
            if title:
                return title, []
        hits = await self.search_titles(guild_id, query, 3)
        return None, [h.entry.name for h in hits]

    async def find_person(self, guild_id: int | None, query: str) -> tuple[models.Person | None, list[str]]:
        slug = await self._resolve(await self._people.get(guild_id), query)
        if slug:
            person = await self.reads.get_person(slug, guild_id)
            if person:
                return person, []
        hits = await self.search_people(guild_id, query, 3)
        return None, [h.entry.name for h in hits]

    @staticmethod
    async def _resolve(indexes: list[SearchIndex], query: str) -> str | None:
        hidden = indexes[0].hidden if len(indexes) > 1 else frozenset()
        for index in indexes:  # a guild's own entries first, then global
            if index.by_slug(query) and query not in hidden:
                return query
        for index in indexes:
            entry = index.resolve(query)
            if entry and entry.slug not in hidden:
                return entry.slug
        return None

    async def title_presets(self, guild_id: int | None, now: dt.datetime, tz: dt.tzinfo,
                            limit: int = 25) -> list[models.SearchEntry]:
        """What autocomplete offers before anything is typed: upcoming releases first, then the latest."""
        today = now.astimezone(tz).date()
        upcoming = await queries.releases(self.store, guild_id, after=today - dt.timedelta(days=1), limit=limit)
        recent = await queries.releases(self.store, guild_id, before=today, newest_first=True, limit=limit)
        seen: dict[str, models.SearchEntry] = {}
        for release in [r for r in upcoming if timemath.is_upcoming(r.value, now, tz)] + recent:
            title = release.title
            if title.slug not in seen:
                year = (str(release.value.date.year),) if release.value.date else ()
                seen[title.slug] = models.SearchEntry(title.slug, title.name, (), title.guild_id, year)
        return list(seen.values())[:limit]

    async def people_presets(self, guild_id: int | None, limit: int = 25) -> list[models.SearchEntry]:
        """Before anything is typed: the people with the most credits."""
        people = await queries.people_by_credits(self.store, guild_id, limit)
        return [models.SearchEntry(p.slug, p.name, (), p.guild_id) for p in people]
