"""The catalog core: search over titles and people with cached indexes, and guild-aware lookups.

Cogs ask this (and db.queries) for plain dataclasses; nothing here knows about Discord.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot import collector, timemath
from bot.readcache import ReadCache
from bot.search import Hit, SearchIndex, merge
from db import models, queries
from db.store import Store

log = logging.getLogger(__name__)

class EntryLoader(Protocol):
    async def __call__(self, store: Store, guild_id: int | None, *,
                       slugs: Collection[str] | None = None) -> list[models.SearchEntry]: ...


# Above this many entries an index is built on a thread: nothing reads it until it is done, and 100,000
# entries take seconds. Updates are applied on the event loop in steps of this many entries (each step
# leaves the index whole), so members' searches run between them.
THREAD_MIN = 2000
STEP = 500
WAIT_FOR_UPDATE = 1.0  # seconds a search waits for the changes to reach the index before using it as it is
# PostgreSQL hands out log ids before commit, so a transaction can commit after one with a later id:
# each update reads again this far behind the newest id it saw (ids already applied are skipped).
LOOK_BACK = 1000


@dataclass(slots=True)
class _Cached:
    index: SearchIndex
    generation: tuple[int, int]


class _Global:
    """The global index: built once, then kept in step with the store's `search_changes` log."""

    def __init__(self, store: Store, kind: str, loader: EntryLoader) -> None:
        self.store = store
        self.kind = kind
        self.loader = loader
        self.index: SearchIndex | None = None
        self.synced: tuple[int, int] | None = None  # the version token the index reflects
        self.cursor = 0  # the newest log id applied
        self.recent: set[int] = set()  # log ids applied within LOOK_BACK of the cursor
        self.task: asyncio.Task[None] | None = None
        self.first_build = asyncio.Lock()
        self.build_seconds = 0.0

    async def build(self, token: tuple[int, int]) -> None:
        started = time.perf_counter()
        # Where the log stands before the load: the rows up to here are in what is loaded (they were
        # committed), later ones are applied afterwards.
        cursor = await queries.search_change_position(self.store)
        rows, _ = await queries.search_changes(self.store, self.kind, max(0, cursor - LOOK_BACK))
        with collector.paused():  # what is made here stays: no collection looks through it on the way
            entries = await self.loader(self.store, None)
            self.index = (await asyncio.to_thread(SearchIndex, entries) if len(entries) > THREAD_MIN
                          else SearchIndex(entries))
        self.cursor, self.recent, self.synced = cursor, {i for i, _ in rows if i <= cursor}, token
        self.build_seconds = time.perf_counter() - started
        log.info("search index of %d %ss built in %.2f s", len(self.index), self.kind, self.build_seconds)

    async def catch_up(self, token: tuple[int, int]) -> None:
        """Apply the log rows written since the last update; start over only when they were pruned."""
        try:
            rows, complete = await queries.search_changes(self.store, self.kind, max(0, self.cursor - LOOK_BACK))
            if not complete:
                log.warning("the search change log was pruned past this index; building the %s index again",
                            self.kind)
                await self.build(token)
                return
            fresh = [(i, slug) for i, slug in rows if i not in self.recent and i > self.cursor - LOOK_BACK]
            slugs = list(dict.fromkeys(slug for _, slug in fresh))
            assert self.index is not None
            for start in range(0, len(slugs), STEP):
                chunk = slugs[start:start + STEP]
                entries = await self.loader(self.store, None, slugs=chunk)
                found = {e.slug for e in entries}
                self.index.update(entries, removed=[slug for slug in chunk if slug not in found])
                if start + STEP < len(slugs):
                    await asyncio.sleep(0)
            if fresh:
                self.cursor = max(self.cursor, max(i for i, _ in fresh))
                self.recent = {i for i in self.recent | {i for i, _ in fresh} if i > self.cursor - LOOK_BACK}
                log.debug("search index of %ss: %d entries updated", self.kind, len(slugs))
            self.synced = token
        except Exception:
            log.exception("could not update the %s search index; still serving it as it was", self.kind)

    async def get(self, token: tuple[int, int]) -> SearchIndex:
        if self.index is None:
            async with self.first_build:
                if self.index is None:
                    await self.build(token)
        elif self.synced != token:
            if self.task is None or self.task.done():
                self.task = asyncio.create_task(self.catch_up(token))
            # A few changes (an edit) are applied before this search; a big import keeps going meanwhile.
            await asyncio.wait([self.task], timeout=WAIT_FOR_UPDATE)
        assert self.index is not None
        return self.index


class _Indexes:
    """The global index (updated in place as the store changes) plus small per-guild ones (built again
    when the store changes: a server's own entries are few)."""

    def __init__(self, store: Store, kind: str, loader: EntryLoader) -> None:
        self.store = store
        self.loader = loader
        self.global_ = _Global(store, kind, loader)
        self._guilds: dict[int, _Cached] = {}

    async def get(self, guild_id: int | None) -> list[SearchIndex]:
        generation = await self.store.version_token()
        global_index = await self.global_.get(generation)
        if guild_id is None:
            return [global_index]
        cached = self._guilds.get(guild_id)
        if cached is None or cached.generation != generation:
            cached = _Cached(SearchIndex(await self.loader(self.store, guild_id)), generation)
            self._guilds[guild_id] = cached
        if len(cached.index) or cached.index.hidden:
            return [cached.index, global_index]
        return [global_index]


def _search(indexes: list[SearchIndex], query: str, limit: int) -> list[Hit]:
    """Search a guild's index and the global one; the guild's entries (and hidden slugs) shadow."""
    if len(indexes) == 1:  # its hits are one per entry and in order already
        return indexes[0].search(query, limit)
    hidden = indexes[0].hidden
    return merge([ix.search(query, limit + len(hidden)) for ix in indexes], limit, hidden)


class Catalog:
    def __init__(self, store: Store, reads: ReadCache | None = None) -> None:
        self.store = store
        self.reads = reads or ReadCache(store)
        self._titles = _Indexes(store, "title", queries.title_search_entries)
        self._people = _Indexes(store, "person", queries.person_search_entries)

    async def warm(self) -> float:
        """Build the global search indexes now, so the first member does not wait for them; the seconds taken."""
        started = time.perf_counter()
        await self._titles.get(None)
        await self._people.get(None)
        return time.perf_counter() - started

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
