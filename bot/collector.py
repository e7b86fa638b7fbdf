"""Garbage collection between answers instead of in the middle of them.

CPython collects its youngest generation whenever 700 more container objects are alive than at the last
collection, wherever the program happens to be. An autocomplete answer of 25 choices makes a few hundred of
them (discord.py's choices and payload, the search hits), so about one such answer in eight paid for a young
collection on its way, and one in a hundred for a middle-generation one, which takes milliseconds with a big
catalog loaded: the slowest percent of answers was the collector's, not the bot's.

`IdleCollector` runs those collections out of band (as Ruby's Unicorn servers do between requests): as soon as
no interaction is being handled, it runs the young or middle collection CPython would have run next, when there
is enough to collect. Each answer then starts with an almost empty young generation and rarely fills it. The
automatic collector stays on, so a burst with no idle moment is collected as before; the oldest generation is
left to CPython's own rule (and `gc.freeze()` at READY keeps the loaded catalog out of it).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_MIN = 100  # fewer new objects than this are not worth a collection's fixed cost


class IdleCollector:
    def __init__(self, *, young_min: int = YOUNG_MIN) -> None:
        self.young_min = young_min
        self.busy = 0  # interactions being handled now
        self.collections = [0, 0]  # young and middle collections run between answers

    def answering(self) -> None:
        """Call from the task that handles an interaction: no collection runs until it, and every other one
        being handled, is done."""
        task = asyncio.current_task()
        if task is None:
            return
        self.busy += 1
        task.add_done_callback(self._done)

    def _done(self, _task: asyncio.Task[object]) -> None:
        self.busy -= 1
        if self.busy == 0:
            self.collect()

    def collect(self) -> int | None:
        """The collection CPython would run next, if there is enough to collect; the generation run, or None."""
        if not gc.isenabled():  # someone (a benchmark, a debugger) turned collection off: leave it off
            return None
        young, middle, _ = gc.get_count()
        if middle >= gc.get_threshold()[1]:
            generation = 1
        elif young >= self.young_min:
            generation = 0
        else:
            return None
        gc.collect(generation)
        self.collections[generation] += 1
        return generation


def answering(client: object) -> None:
    """The hook for an interaction's handler: this client's collector (if it has one) waits for the current task."""
    collector = getattr(client, "collector", None)
    if collector is not None:
        collector.answering()


class _Pause:
    depth = 0  # builds under way (started and ended on the event loop's thread)
    resume = False  # whether collection was on when the first began


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside: for building the search indexes, millions of objects that all stay
    alive, whose numbers would otherwise set off full collections of an ever bigger heap (0.7 s of a 5.5 s
    build of the big catalog, bench/README.md). Nested and overlapping builds resume it once, at the last end."""
    if _Pause.depth == 0:
        _Pause.resume = gc.isenabled()
        gc.disable()
    _Pause.depth += 1
    try:
        yield
    finally:
        _Pause.depth -= 1
        if _Pause.depth == 0 and _Pause.resume:
            gc.enable()
