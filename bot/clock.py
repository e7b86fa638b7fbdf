"""The one place that knows what time it is. Everything else asks an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock for tests and the playground: starts at a given instant and moves only when told.

    Waiters (the countdown scheduler) can await `changed` to notice a jump.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime.now(dt.UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)
        self.changed = asyncio.Event()

    def now(self) -> dt.datetime:
        return self._now

    def set(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = instant.astimezone(dt.UTC)
        self.changed.set()
        self.changed = asyncio.Event()

    def advance(self, delta: dt.timedelta) -> None:
        self.set(self._now + delta)
