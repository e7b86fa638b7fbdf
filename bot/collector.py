"""Garbage collection between answers instead of in the middle of them.

CPython collects its youngest generation whenever 700 more container objects are alive than at the last
collection, wherever the program happens to be. One answer can make twice that many (a /person answer with
page buttons, measured: up to 1,415 on the big catalog), so even starting from an empty young generation a
fifth of all answers paid for a young collection on the way (110 µs each, measured by bench/latency.py), and
some for a full one, whose cost grows with everything the process has made since READY.

`IdleCollector` runs those collections out of band (as Ruby's Unicorn servers do between requests). Once
`install`ed (at READY, after `gc.freeze()` moved the loaded catalog out of the collector's way), CPython's own
young threshold is raised far above what an answer makes, so collections no longer start inside an answer;
as soon as no interaction is being handled, the collector runs the one CPython would have run: the middle
generation when it is due, else the young one when there is enough in it. The oldest generation is collected
the same way, when CPython's count says it is due and at most every `full_every` seconds (CPython's own
rule, at least a quarter more long-lived objects than at the last one, cannot be read from Python; the time
bound keeps its cost, which grows with the heap, a small share). The automatic collector stays on, so a
burst with no idle moment is still collected, at the raised threshold.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

YOUNG_MIN = 100  # fewer new objects than this are not worth a collection's fixed cost
YOUNG_THRESHOLD = 10_000  # CPython's young threshold once installed: seven times the most an answer makes
FULL_EVERY = 60.0  # seconds between full collections run between answers, at least


class IdleCollector:
    def __init__(self, *, young_min: int = YOUNG_MIN, young_threshold: int = YOUNG_THRESHOLD,
                 full_every: float = FULL_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.young_min = young_min
        self.young_threshold = young_threshold
        self.full_every = full_every
        self.clock = clock
        self.busy = 0  # interactions being handled now
        self.collections = [0, 0, 0]  # young, middle and full collections run between answers
        self.during = [0, 0, 0]  # ...and the automatic ones that started while an answer was being handled
        self._last_full = clock()
        self._installed = False
        self._own = False  # inside one of our own collections

    def install(self) -> None:
        """Take over: raise CPython's young threshold (for the process) and count automatic collections."""
        if self._installed:
            return
        self._installed = True
        _Threshold.raise_to(self.young_threshold)
        gc.callbacks.append(self._observe)

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        gc.callbacks.remove(self._observe)
        _Threshold.release(self.young_threshold)

    def _observe(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and self.busy and not self._own:
            self.during[info["generation"]] += 1

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
        young, middle, old = gc.get_count()
        _, middle_threshold, old_threshold = gc.get_threshold()
        if middle >= middle_threshold:
            now = self.clock()
            generation = 2 if old >= old_threshold and now - self._last_full >= self.full_every else 1
            if generation == 2:
                self._last_full = now
        elif young >= self.young_min:
            generation = 0
        else:
            return None
        self._own = True
        try:
            gc.collect(generation)
        finally:
            self._own = False
        self.collections[generation] += 1
        return generation


class _Threshold:
    """CPython's young threshold: the highest any installed collector asked for, and CPython's own (as it was
    before the first) once the last is uninstalled."""

    asked: ClassVar[list[int]] = []  # one entry per installed collector
    saved = 0

    @classmethod
    def raise_to(cls, young: int) -> None:
        if not cls.asked:
            cls.saved = gc.get_threshold()[0]
        cls.asked.append(young)
        cls._apply()

    @classmethod
    def release(cls, young: int) -> None:
        cls.asked.remove(young)
        cls._apply()

    @classmethod
    def _apply(cls) -> None:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(max([cls.saved, *cls.asked]), middle, old)


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
