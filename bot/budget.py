"""Discord's budgets for the bot token: the invalid-request limit, and the 50 requests a second.

Discord bans an IP for a while after 10,000 invalid requests (401, 403, 429 other than a shared 429) in
10 minutes, interaction answers included. Every answer discord.py gets passes through an aiohttp trace
hook here; the countdown dispatcher asks `RequestBudget.pause_for()` before each post and holds back
while the bot is near its own, much lower, limit.

The 50 requests a second belong to the token, whichever process sends them (interaction answers are
exempt). Every other REST request waits, in the same trace hook, right before it goes on the wire, for
a slot of one schedule kept in the store (`Pacer`): the pacing holds for every request, and nothing
between the slot and the wire (a store write, a busy event loop) can bunch requests into one second.
A sender that knows its request is coming (a countdown post) reserves its slot ahead, does its own work
in the meantime (claiming the post in the store), and sends on the slot.

Rate limits are physical: real time, not the bot's clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp

from db import leases

if TYPE_CHECKING:
    from db.store import Store

log = logging.getLogger(__name__)

# Discord allows 50 requests a second per bot token (interaction answers are exempt): the bot stays a little
# under it, so a wave of posts never causes a 429 of its own.
POSTS_PER_SECOND = 47.0
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

    def trace_config(self, pacer: Pacer | None = None) -> aiohttp.TraceConfig:
        """Pass to discord.py as `http_trace=`: every answer Discord gives is counted here, and every request
        that counts against the token's 50 a second waits for its slot of `pacer` first."""
        config = aiohttp.TraceConfig()

        async def on_request_start(session: aiohttp.ClientSession, context: Any,
                                   params: aiohttp.TraceRequestStartParams) -> None:
            if pacer is not None:
                await pacer.before_request(str(params.url))

        async def on_request_end(session: aiohttp.ClientSession, context: Any,
                                 params: aiohttp.TraceRequestEndParams) -> None:
            response = params.response
            self.record(response.status, response.headers.get("X-RateLimit-Scope"))

        config.on_request_start.append(on_request_start)
        config.on_request_end.append(on_request_end)
        return config


# Discord's interaction endpoints (answers and follow-ups) are exempt from the token's global limit.
EXEMPT_ROUTES = ("/interactions/", "/webhooks/")
# The slot a request reserved ahead (a one-item list, emptied by the request that uses it; a retry of the
# same call takes a fresh slot). Set with `Pacer.using()`; tasks started inside (asyncio.wait_for) see it.
_RESERVED: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("marquee_reserved_slot", default=None)


class Pacer:
    """At most `rate` request starts per second for the bot token, shared by every process on the store:
    each process takes slots from one schedule kept in the store (a few at a time), so two processes never
    spend the same second twice. Slots are wall-clock instants (epoch seconds)."""

    def __init__(self, rate: float, store: Store | None = None, *, batch: int = 12, api_base: str | None = None,
                 lead: float = 0.03) -> None:
        self.interval = 1.0 / rate
        self.store = store
        self.batch = batch
        self.api_base = api_base  # requests elsewhere (the gateway, TMDB) are not Discord REST: not paced
        self.lead = lead  # how long before its slot a reserving sender starts its own work (adapts)
        self._slots: list[float] = []
        self._took: collections.deque[float] = collections.deque(maxlen=64)
        self._lock = asyncio.Lock()
        self._local = 0.0  # the next slot when the store cannot be reached
        self._store_failing = False
        self.paced = 0  # requests that waited for a slot (for tests and the benchmark)
        self.retaken = 0  # slots given up because the request came too late for it

    def exempt(self, url: str) -> bool:
        if self.api_base is not None and not url.startswith(self.api_base):
            return True
        return any(route in url for route in EXEMPT_ROUTES)

    def late(self, slot: float) -> bool:
        """Whether a request that took `slot` would now leave too long after it (then it takes a fresh one):
        more than half a slot late, so that no second ever holds more than one request beyond the rate."""
        return time.time() - slot > self.interval / 2

    async def reserve(self) -> float:
        """The next free slot of this process (epoch seconds), without waiting for it."""
        async with self._lock:
            now = time.time()
            self._slots = [s for s in self._slots if s >= now - self.interval / 2]  # unused, gone
            if not self._slots:
                start, spacing = await self._claim(now)
                self._slots = [start + i * spacing for i in range(self.batch)]
            return self._slots.pop(0)

    async def _claim(self, now: float) -> tuple[float, float]:
        """(first slot, spacing) of the next `batch` slots: from the store's schedule, or, while the store cannot
        be reached, a schedule of this process alone at a quarter of the rate (others may be sending)."""
        if self.store is not None:
            try:
                start = await leases.claim_slots(self.store, self.batch, self.interval, now)
            except Exception as exc:
                if not self._store_failing:
                    log.warning("cannot take request slots from the store (%s); pacing this process alone at a "
                                "quarter of the budget until it answers", type(exc).__name__)
                self._store_failing = True
            else:
                self._store_failing = False
                return start, self.interval
        spacing = self.interval * (4 if self.store is not None else 1)
        start = max(self._local, now)
        self._local = start + self.batch * spacing
        return start, spacing

    async def wait(self, slot: float | None = None) -> float:
        """Wait for `slot` (a reserved one) or the next free one; a slot this request is too late for is given
        up for a fresh one (a slot is a moment, not a voucher: several late senders at once would burst the
        budget). Returns the slot used."""
        while True:
            if slot is None:
                slot = await self.reserve()
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.late(slot):
                return slot
            self.retaken += 1
            slot = None

    async def until_lead(self, slot: float) -> None:
        """Sleep until `lead` seconds before `slot`: the moment a reserving sender starts its own work."""
        delay = slot - self.lead - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def took(self, seconds: float) -> None:
        """How long a sender's work between `until_lead` and its request took. The lead follows the slowest of
        the recent ones (a request that misses its slot loses it), between 20 ms and half a second."""
        self._took.append(seconds)
        self.lead = min(0.5, max(0.02, 1.25 * max(self._took) + 0.005))

    @contextlib.contextmanager
    def using(self, slot: float) -> Iterator[None]:
        """The next paced request made inside this block goes out on `slot`."""
        token = _RESERVED.set([slot])
        try:
            yield
        finally:
            _RESERVED.reset(token)

    async def before_request(self, url: str) -> None:
        if self.exempt(url):
            return
        reserved = _RESERVED.get()
        await self.wait(reserved.pop() if reserved else None)
        self.paced += 1
