"""Discord's invalid-request budget, and the bot's own share of the 50 requests a second.

Discord bans an IP for a while after 10,000 invalid requests (401, 403, 429 other than a shared 429) in
10 minutes, interaction answers included. Every answer discord.py gets passes through an aiohttp trace
hook here; the countdown dispatcher asks `RequestBudget.pause_for()` before each post and holds back
while the bot is near its own, much lower, limit. Rate limits are physical: real (loop) time, not the
bot's clock.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

INVALID_STATUSES = frozenset({401, 403, 429})
WINDOW_SECONDS = 600.0
LIMIT = 1000  # a tenth of Discord's 10,000: room for interaction answers and other processes


class RequestBudget:
    """Invalid requests in a sliding window; `pause_for()` says how long to hold back countdown posts."""

    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW_SECONDS, reserve: float = 0.2,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.reserve = int(limit * reserve)  # kept for interaction answers: posts stop before the limit
        self._now = now
        self._events: collections.deque[float] = collections.deque()
        self.total = 0
        self._warned = False

    def _expire(self, now: float) -> None:
        while self._events and now - self._events[0] >= self.window:
            self._events.popleft()

    def record(self, status: int, scope: str | None = None) -> None:
        if status not in INVALID_STATUSES or (status == 429 and scope == "shared"):
            return
        now = self._now()
        self._expire(now)
        self._events.append(now)
        self.total += 1

    def count(self) -> int:
        self._expire(self._now())
        return len(self._events)

    def pause_for(self) -> float:
        """0 while there is room; otherwise the seconds until enough of the window has passed."""
        now = self._now()
        self._expire(now)
        over = len(self._events) - (self.limit - self.reserve)
        if over < 0:
            self._warned = False
            return 0.0
        if not self._warned:
            log.warning("%d invalid Discord requests in the last %.0f minutes (Discord bans at 10,000): holding "
                        "countdown posts back", len(self._events), self.window / 60)
            self._warned = True
        return max(self._events[over] + self.window - now, 0.05)

    async def wait(self) -> None:
        while (delay := self.pause_for()) > 0:  # noqa: ASYNC110 - the window drains with time, no event to wait on
            await asyncio.sleep(min(delay, 5.0))

    def trace_config(self) -> aiohttp.TraceConfig:
        """Pass to discord.py as `http_trace=`: every answer Discord gives is counted here."""
        config = aiohttp.TraceConfig()

        async def on_request_end(session: aiohttp.ClientSession, context: Any,
                                 params: aiohttp.TraceRequestEndParams) -> None:
            response = params.response
            self.record(response.status, response.headers.get("X-RateLimit-Scope"))

        config.on_request_end.append(on_request_end)
        return config
