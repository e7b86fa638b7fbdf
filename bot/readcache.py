"""Catalog reads, remembered until the store changes.

The catalog is read far more often than it is written: each answer would otherwise cost several
round trips to SQLite's thread. Results are kept per query and arguments, and all of them are dropped
as soon as the store's version token moves (a commit here, or one by another process). Lists are
handed out as copies, so a caller that sorts its result cannot change the cached one.

`remember` keeps what an answer makes from those reads by the same rule: the pages of /person, /cast and /crew
(a well-known actor's 65 credits are 90 µs of formatting, the same for every member who asks until the
catalog changes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from db import queries
from db.store import Store

CACHED = frozenset({
    "get_title", "titles", "franchises", "releases", "releases_for_title", "credits_for_title", "get_person",
    "credits_for_person", "first_release_years", "watch_offers", "source_names", "people_by_credits", "release_of",
})


T = TypeVar("T")


def _key(value: Any) -> Any:
    if isinstance(value, list | set):
        return tuple(value)
    return value


class ReadCache:
    def __init__(self, store: Store, size: int = 4096) -> None:
        self.store = store
        self.size = size
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._token: tuple[int, int] | None = None
        self.hits = self.misses = 0

    async def remember(self, key: tuple[Any, ...], build: Callable[[], Awaitable[T]]) -> T:
        """What `build` makes from this cache's reads (an answer's pages), made once until the store changes,
        by the same rule as the reads. Not kept when the store changed while it was being made: its reads may
        then straddle the change. The value is shared: whoever takes it must not change it."""
        token = await self._current()
        full = ("remember", *key)
        try:
            value = self._data[full]
            self._data.move_to_end(full)
            self.hits += 1
            return cast(T, value)
        except KeyError:
            pass
        value = await build()
        self.misses += 1
        if await self._current() == token:
            self._keep(full, value)
        return value

    async def _current(self) -> tuple[int, int]:
        token = await self.store.version_token()
        if token != self._token:
            self._data.clear()
            self._token = token
        return token

    def _keep(self, key: tuple[Any, ...], value: Any) -> None:
        self._data[key] = value
        if len(self._data) > self.size:
            self._data.popitem(last=False)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """The query of that name, made once: kept on the instance, so the next look-up does not come here."""
        function = getattr(queries, name)
        if name not in CACHED:
            async def passthrough(*args: Any, **kwargs: Any) -> Any:
                return await function(self.store, *args, **kwargs)

            setattr(self, name, passthrough)
            return passthrough

        async def cached(*args: Any, **kwargs: Any) -> Any:
            await self._current()
            key = (name, tuple(map(_key, args)),
                   tuple(sorted((k, _key(v)) for k, v in kwargs.items())) if kwargs else ())
            try:
                value = self._data[key]
                self._data.move_to_end(key)
                self.hits += 1
            except KeyError:
                value = await function(self.store, *args, **kwargs)
                self._keep(key, value)
                self.misses += 1
            return list(value) if isinstance(value, list) else value

        setattr(self, name, cached)
        return cached
